"""`jupyter jobs ...`: the DataSphere-compatible command line (execute, fork, attach, list, ...).

User mistakes end in one line on stderr and exit code 2; `execute` and `attach` exit with the
job's own exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from .errors import ConfigError, JobsError
from .runner import protocol
from .runner.protocol import Status

EXIT_USAGE = 2
EXIT_DISK_FULL = 1
EXIT_DETACHED = 130


def _id(text: str) -> str:
    return text.strip()


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    out = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise JobsError(f"{flag} {item!r}: expected NAME=VALUE")
        out[name] = value
    return out


def _add_id(parser: argparse.ArgumentParser) -> None:
    """The run a command is about: `get ID` or, as DataSphere's CLI spells it, `get --id ID`."""
    parser.add_argument("id", nargs="?", type=_id, metavar="ID", help="the run's id (a unique prefix will do)")
    parser.add_argument("--id", dest="id_option", type=_id, metavar="ID", help="the same, as an option")


def _take_id(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if "id_option" not in args:
        return
    if args.id and args.id_option and args.id != args.id_option:
        parser.error(f"two run ids given: {args.id} and --id {args.id_option}")
    args.id = args.id or args.id_option
    if not args.id:
        parser.error(f"{args.command}: the run's id is required (`jupyter jobs {args.command} ID`)")


def build_parser() -> argparse.ArgumentParser:
    from .notebook import parameters

    parser = argparse.ArgumentParser(prog="jupyter jobs", description=__doc__.splitlines()[0])
    from ._version import __version__

    parser.add_argument("--version", action="version", version=__version__, help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("execute", help="run a job from a config.yaml and stream its output")
    p.add_argument("-c", "--config", required=True, help="the job's config.yaml")
    p.add_argument("--async", dest="is_async", action="store_true", help="submit and return at once")
    p.add_argument("-o", "--output", help="with --async: write {\"job_id\": ...} to this file")
    p.add_argument("--executor", help="executor to run on (default: the first configured)")

    # `run`: a notebook as a job, executed with papermill in the job (jupyter_jobs/notebook/build.py),
    # its parameter flags papermill's (notebook/parameters.py).
    p = sub.add_parser("run", help="run a notebook as a job with papermill; its parameters are checked first",
                       description="Run a notebook as a job, with papermill's parameter flags.")
    p.add_argument("notebook", metavar="NOTEBOOK", help="the notebook to run")
    p.add_argument("output_path", nargs="?", metavar="OUTPUT", help="where the executed notebook comes back "
                   "(as papermill's output path; default: NAME-<run id>.ipynb beside NOTEBOOK)")
    parameters.add_arguments(p)
    p.add_argument("-o", "--output", help="the same as OUTPUT")
    p.add_argument("-i", "--instance", "--cloud-instance-type", dest="instance", help="instance type")
    p.add_argument("--name", help="the run's name (default: the notebook's)")
    p.add_argument("--inputs", action="append", metavar="FILES",
                   help="files the notebook reads, sent with it (comma-separated, repeatable)")
    p.add_argument("--outputs", action="append", metavar="FILES",
                   help="files it writes, brought back (comma-separated, repeatable)")
    p.add_argument("--env-var", action="append", metavar="NAME=VALUE", help="an environment variable (repeatable)")
    p.add_argument("--timeout", type=float, metavar="S", help="stop the run after S seconds")
    p.add_argument("--executor", help="executor to run on (default: the first configured)")
    p.add_argument("--async", dest="is_async", action="store_true", help="submit and return at once")

    p = sub.add_parser("fork", help="run a job again with changes")
    _add_id(p)
    p.add_argument("--arg", action="append", metavar="NAME=VALUE", help="override an argument")
    p.add_argument("--var", action="append", metavar="NAME=PATH", help="another file for a variable")
    p.add_argument("--env-var", action="append", metavar="NAME=VALUE", help="set an environment variable")
    parameters.add_arguments(p, lenient=False)
    p.add_argument("--cloud-instance-type", "--instance", dest="instance_type", help="another instance type")
    p.add_argument("--name", help="the fork's name (default: the parent's)")
    p.add_argument("--desc", help="the fork's description (default: the parent's)")
    p.add_argument("--async", dest="is_async", action="store_true", help="submit and return at once")
    p.add_argument("-o", "--output-dir", metavar="DIR",
                   help="bring the outputs back here (default: NAME-<fork id>/ beside the parent's)")
    p.add_argument("--force", action="store_true", help="bring the outputs back to the parent's places, "
                   "overwriting its outputs")
    p.add_argument("--id-file", metavar="FILE", help="with --async: write {\"job_id\": ...} to this file")

    p = sub.add_parser("attach", help="follow a running job's output; outputs come back at the end")
    _add_id(p)

    p = sub.add_parser("list", help="run history, newest first")
    p.add_argument("--format", choices=("table", "json"), default="table", help="a table, or JSON")
    p.add_argument("--status", action="append", help="only runs with this status (repeatable)")
    p.add_argument("--limit", type=int, default=100, help="at most this many runs (default: 100)")

    p = sub.add_parser("get", help="one run's details")
    _add_id(p)
    p.add_argument("--format", choices=("table", "json"), default="table", help="a table, or JSON")

    p = sub.add_parser("logs", help="a run's logs")
    _add_id(p)
    p.add_argument("--stream", choices=("all", *protocol.STREAMS), default="all", help="only this stream")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing until the job ends")
    p.add_argument("--timestamps", "-t", action="store_true", help="prefix each line with its time")

    p = sub.add_parser("cancel", help="stop a job")
    _add_id(p)
    p.add_argument("--graceful", action="store_true",
                   help="send the job's graceful-shutdown signal and wait its timeout before killing")

    p = sub.add_parser("download-files", help="copy a run's outputs (and logs) here")
    _add_id(p)
    p.add_argument("--with-logs", action="store_true", help="also the logs, under logs/")
    p.add_argument("--output-dir", default=".", help="where to copy them (default: here)")

    p = sub.add_parser("set-data-ttl", help="how long a run's logs and outputs are kept")
    _add_id(p)
    p.add_argument("--days", required=True, help="a number of days, or inf")

    p = sub.add_parser("delete", help="delete a finished run and its data")
    _add_id(p)

    sub.add_parser("cleanup", help="delete data of runs past their TTL now")

    p = sub.add_parser("secrets", help="values jobs get as environment variables, never shown")
    secrets = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = secrets.add_parser("set", help="create or replace a secret; the value is read from stdin or a prompt")
    q.add_argument("name", help="the secret's name: jobs get it as $NAME")
    secrets.add_parser("list", help="secret names (never values)")
    q = secrets.add_parser("delete", help="delete a secret")
    q.add_argument("name", help="the secret's name")

    p = sub.add_parser("generate-requirements", help="requirements.txt of scripts, detected without running them")
    p.add_argument("files", nargs="+", metavar="FILE", help="the scripts")
    p.add_argument("-o", "--output", help="write here instead of stdout")

    p = sub.add_parser("envs", help="cached job environments")
    envs = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    envs.add_parser("list", help="cached environments, most recently used first")
    q = envs.add_parser("prune", help="evict least recently used environments")
    q.add_argument("--max-size", default="0", help="keep at most this much, e.g. 5GB (default: evict all unused)")

    p = sub.add_parser("instance-types", help="instance types and whether they run here")
    p.add_argument("--format", choices=("table", "json"), default="table", help="a table, or JSON")
    p.add_argument("--executor", help="only this executor's (default: the first configured)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "run" and args.output_path is None and len(extra) == 1 and not extra[0].startswith("-"):
        args.output_path = extra[0]  # `run in.ipynb -p x 1 out.ipynb`: argparse only takes it before options
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    _take_id(parser, args)
    from . import console

    _DOING[:] = [f"running `jupyter jobs {args.command}`"]
    try:
        return COMMANDS[args.command](args) or 0
    except JobsError as exc:
        console.info(f"error: {exc}")
        return EXIT_USAGE
    except BrokenPipeError:  # `jupyter jobs list | head`
        return 0
    except Exception as exc:
        full = _disk_full(exc)
        if full is None:
            raise
        console.info(f"error: no space left on device while {_DOING[-1]} ({full})")
        return EXIT_DISK_FULL


#: What the command is doing, for the one line a full disk gets (`_step` sets it as it goes).
_DOING: list[str] = []


def _step(what: str) -> None:
    _DOING.append(what)


def _disk_full(exc: BaseException) -> str | None:
    """The path (or the data dir) when `exc` is, or was caused by, a full disk or quota: an OSError
    ENOSPC/EDQUOT, or SQLite's "database or disk is full"."""
    import errno

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return str(seen.filename or _data_dir())
        if "database or disk is full" in str(getattr(seen, "orig", None) or seen):
            return str(_data_dir())
        seen = seen.__cause__ or seen.__context__
    return None


def _data_dir() -> str:
    from .settings import load_settings

    return load_settings().data_dir


def _client():
    from .connect import connect

    _step("opening the jobs data dir")
    client = connect()
    _DOING.pop()
    return client


# -- commands ---------------------------------------------------------------------------------------
def cmd_execute(args) -> int:
    from . import console
    from .spec.config import load_config
    from .spec.units import format_size
    from .submit import capture, submit

    loaded = load_config(args.config)
    for warning in loaded.warnings:
        console.info(f"warning: {loaded.source}: {warning}")
    client = _client()

    def uploaded(report) -> None:
        if report.new_files:
            console.info(f"uploaded {_plural(report.new_files, 'file')} ({format_size(report.new_bytes)})"
                         + (f", {report.stored_files} already stored" if report.stored_files else ""))
        elif captured.sources:
            console.info(f"nothing to upload: all {_plural(report.stored_files, 'input file')} already stored")
        _step("submitting the job")

    try:
        captured, lock = capture(loaded.spec, loaded.base_dir, client.settings, loaded.lines)
        if lock is not None:
            _say_python(lock)
        _step("uploading the job's inputs")
        run = submit(client, loaded.spec, captured, loaded.base_dir, str(Path(args.config).resolve()),
                     args.executor, on_upload=uploaded)
    except ConfigError as exc:  # name the file and line, as for every other config error
        raise loaded.locate(exc) from None
    return _after_submit(client, run, args)


def _say_python(lock) -> None:
    """What the static detection of the job's Python environment found."""
    from . import console

    pins = ", ".join(lock.requirements[:6]) + (", ..." if len(lock.requirements) > 6 else "")
    console.info(f"python {lock.python}: {_plural(len(lock.requirements), 'requirement')} ({pins or 'none'}), "
                 f"{_plural(len(lock.local_files) + len(lock.extra_files), 'local file')}")
    if lock.optional_missing:
        console.info(f"optional imports not installed here, left out: {', '.join(lock.optional_missing)}")
    for module, where in lock.unresolved.items():
        console.info(f"warning: `import {module}` ({', '.join(where)}) is neither installed here nor local; "
                     f"the job may fail to import it")
    for warning in lock.warnings:
        console.info(f"warning: {warning}")


def cmd_run(args) -> int:
    """A notebook as a job; the executed notebook always comes back, also when a cell failed."""
    from . import console
    from .notebook.build import Options, prepare_notebook
    from .notebook.parameters import from_args
    from .notebook.results import executed_notebook_path, staging_output
    from .submit import submit_prepared

    if args.output and args.output_path and Path(args.output) != Path(args.output_path):
        raise JobsError(f"two output notebooks given: {args.output_path} and -o {args.output}")
    output = args.output or args.output_path
    split = lambda values: [x.strip() for v in values or [] for x in v.split(",") if x.strip()]  # noqa: E731
    parameters = from_args(args)
    options = Options(name=args.name, instance=args.instance, inputs=split(args.inputs),
                      outputs=split(args.outputs), env=_pairs(args.env_var, "--env-var"), timeout=args.timeout,
                      executor=args.executor, lenient=args.lenient)
    client = _client()
    prepared = prepare_notebook(args.notebook, parameters, options, client.settings,
                                Path(output).resolve() if output else staging_output(args.notebook))
    for warning in prepared.warnings:
        console.info(f"warning: {warning}")
    if parameters:
        console.info("parameters: " + ", ".join(f"{k}={v!r}" for k, v in parameters.items()))
    run = submit_prepared(client, prepared, str(Path(args.notebook).resolve()), args.executor)
    if args.is_async:
        console.info(f"the executed notebook comes back as {executed_notebook_path(run)} when you "
                     f"`jupyter jobs attach {run.id}`")
    args.output = None  # _after_submit's -o is execute's job id file
    return _after_submit(client, run, args)


def cmd_fork(args) -> int:
    """A fork's outputs never land on its parent's: they go to `-o DIR`, else `NAME-FORKID/` beside the
    parent's (its executed notebook to `NAME-FORKID.ipynb`), or with --force to the parent's places."""
    from . import console
    from .notebook.parameters import load_parameters
    from .service.schemas import ForkRequest
    from .submit import fork

    client = _client()
    parent = client.get(client.resolve_id(args.id))
    variables = _pairs(args.var, "--var")
    input_vars = {ref.var for ref in parent.spec.inputs if ref.var}
    request = ForkRequest(args=_pairs(args.arg, "--arg"), env_vars=_pairs(args.env_var, "--env-var"),
                          parameters=load_parameters(args.parameters, args.raw_parameters, args.parameter_files,
                                                     args.parameter_yaml),
                          instance_type=args.instance_type, name=args.name, desc=args.desc)
    request.outputs = {var: path for var, path in variables.items() if var not in input_vars}
    try:
        run = fork(client, parent, request, {v: p for v, p in variables.items() if v in input_vars}, Path.cwd())
    except ConfigError as exc:
        if exc.key == "cloud-instance-type" and args.instance_type:
            exc.key = "--cloud-instance-type"  # the flag, not the parent's config, asked for it
        raise
    place = Path(args.output_dir) if args.output_dir else None
    files = [ref for ref in run.spec.outputs if ref.var != protocol.EXECUTED_NOTEBOOK_VAR]
    if files and place is None and not args.force:
        folder = re.sub(r"[^\w.-]+", "_", run.name or "job")
        place = Path(run.origin.base_dir or ".") / f"{folder}-{run.id}"
    if files:
        console.info(f"the fork's outputs come back to {place}" if place else
                     "the fork's outputs come back to the parent's places, replacing its outputs (--force)")
    args.output = args.id_file
    return _after_submit(client, run, args, output_dir=place, beside=not args.output_dir and not args.force,
                         force=args.force)


def _after_submit(client, run, args, **where) -> int:
    from . import console

    console.info(f"job {run.id} created ({run.instance_type} on {run.executor})")
    if args.is_async:
        for note in run.notes:  # a followed run prints them from its system log
            console.info(f"note: {note}")
        if args.output:
            Path(args.output).write_text(json.dumps({"job_id": run.id}))
        print(run.id)
        return 0
    return _follow_to_end(client, run.id, **where)


def cmd_attach(args) -> int:
    client = _client()
    return _follow_to_end(client, client.resolve_id(args.id))


def _follow_to_end(client, run_id: str, output_dir: Path | None = None, beside: bool = False,
                   force: bool = False) -> int:
    """Stream the job, then bring outputs back; Ctrl-C asks whether to cancel or detach. A failed
    cell's traceback is shown as papermill shows it."""
    from . import console
    from .notebook.results import failure_traceback

    _step("following the job")

    printer = console.EventPrinter()
    offset = 0
    while True:
        try:
            for event in client.follow(run_id, offset):
                printer(event)
            break
        except KeyboardInterrupt:
            if not _confirm_cancel(run_id):
                console.info(f"detached; job {run_id} keeps running. Follow it again with "
                             f"`jupyter jobs attach {run_id}`")
                return EXIT_DETACHED
            client.cancel(run_id, graceful=True)
            console.info("cancelling (graceful)...")
            offset = 0
            printer = console.EventPrinter(streams={"system"})  # what was printed already is not repeated
    run = client.get(run_id)
    _download(client, run, output_dir, beside, force)
    if run.status == Status.FAILED:
        traceback = failure_traceback(client.events(run_id)[0])
        if traceback:
            sys.stderr.write(traceback + "\n")
    tail = f" in {console.duration(run)}" if run.started_at else ""
    code = f" (exit code {run.exit_code})" if run.exit_code is not None else ""
    console.info(f"job {run.id} {run.status}{tail}{code}" + (f": {run.error}" if run.error else ""))
    if run.status == Status.SUCCEEDED:
        return 0
    return run.exit_code if run.exit_code else 1


def _confirm_cancel(run_id: str) -> bool:
    if not sys.stdin.isatty():
        return False
    try:
        answer = input(f"\nCancel job {run_id}? [y/N] ")
    except (KeyboardInterrupt, EOFError):
        return False
    return answer.strip().lower() in ("y", "yes")


def _download(client, run, output_dir: Path | None = None, beside: bool = False, force: bool = False) -> None:
    """Bring the outputs back (under `output_dir`, else to their declared places); a notebook run's
    executed notebook by its one name (`notebook/results.py`), beside the notebook when `beside`, to a
    fork's parent's place only with `force`."""
    from . import console
    from .notebook.results import download_executed_notebook, executed_notebook_path, split_outputs
    from .spec.units import format_size

    if not run.outputs or run.data_deleted:
        return
    _step("downloading the job's outputs")
    notebook, others = split_outputs(run)
    if notebook is not None:
        dest = executed_notebook_path(run, None if beside else output_dir, declared=True if force else None)
        if dest is not None and download_executed_notebook(client, run, dest):
            console.info(f"executed notebook: {dest}")
    report = client.download_outputs(others, output_dir)
    if report.files:
        console.info(f"downloaded {_plural(len(report.files), 'output file')} ({format_size(report.bytes)})"
                     + (f" to {output_dir}" if output_dir else ""))
    for name in report.missing + ([notebook.name] if notebook is not None and notebook.missing else []):
        console.info(f"warning: output {name} was not produced by the job")
    for message in report.refused:
        console.info(f"warning: {message}")
    if report.skipped:
        console.info(f"skipped {_plural(len(report.skipped), 'output file')} over the download limit: "
                     f"{', '.join(report.skipped[:5])}; use `jupyter jobs download-files {run.id}`")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def cmd_list(args) -> int:
    from . import console

    runs = _client().list(status=args.status, limit=args.limit)
    if args.format == "json":
        print(json.dumps([r.model_dump(mode="json") for r in runs], indent=1))
    elif runs:
        print(console.runs_table(runs))
    else:
        console.info("no jobs yet; run one with `jupyter jobs execute -c config.yaml`")
    return 0


def cmd_get(args) -> int:
    from . import console

    client = _client()
    run = client.get(client.resolve_id(args.id))
    if args.format == "json":
        print(run.model_dump_json(indent=1))
    else:
        from .notebook.results import executed_notebook_path

        print(console.run_details(run, executed_notebook_path(run)))
    return 0


def cmd_logs(args) -> int:
    from . import console

    client = _client()
    run_id = client.resolve_id(args.id)
    streams = set(protocol.STREAMS) if args.stream == "all" else {args.stream}
    if not args.follow and not args.timestamps and args.stream != "all":
        sys.stdout.write(client.logs(run_id, args.stream))
        return 0
    printer = console.EventPrinter(timestamps=args.timestamps, streams=streams, quiet=True)
    if args.follow:
        for event in client.follow(run_id):
            printer(event)
    else:
        events, _ = client.events(run_id)
        for event in events:
            printer(event)
    return 0


def cmd_cancel(args) -> int:
    from . import console

    client = _client()
    run = client.cancel(client.resolve_id(args.id), graceful=args.graceful)
    console.info(f"job {run.id} is {run.status}" + ("" if run.finished else "; cancel requested"))
    return 0


def cmd_download_files(args) -> int:
    from . import console

    client = _client()
    run = client.get(client.resolve_id(args.id))
    out = Path(args.output_dir)
    _download(client, run, out)
    if args.with_logs:
        _step("downloading the job's logs")
        files = client.download_logs(run.id, out)
        console.info(f"downloaded {_plural(len(files), 'log file')} to {out / 'logs'}")
    return 0


def cmd_set_data_ttl(args) -> int:
    from . import console

    text = args.days.strip().lower()
    try:
        days = None if text in ("inf", "infinity") else float(text)
    except ValueError:
        raise JobsError(f"--days {args.days!r}: expected a number of days or `inf`") from None
    if days is not None and days < 0:
        raise JobsError("--days must not be negative")
    client = _client()
    run = client.set_ttl(client.resolve_id(args.id), days)
    console.info(f"job {run.id}: data kept " + ("forever" if days is None else
                                                 f"until {console.when(run.expires_at)}"))
    return 0


def cmd_delete(args) -> int:
    from . import console

    client = _client()
    run_id = client.resolve_id(args.id)
    client.delete(run_id)
    console.info(f"job {run_id} deleted")
    return 0


def cmd_cleanup(args) -> int:
    from . import console
    from .spec.units import format_size

    freed = _client().cleanup()
    console.info(f"deleted the data of {_plural(freed['runs'], 'expired run')}; "
                 f"freed {format_size(freed['blob_bytes'])} of stored inputs")
    return 0


def cmd_secrets(args) -> int:
    """Values come from stdin or a hidden prompt, never argv (which `ps` and shell history show)."""
    from . import console

    client = _client()
    if args.action == "list":
        for name in client.secret_names():
            print(name)
        return 0
    if args.action == "delete":
        client.delete_secret(args.name)
        console.info(f"secret {args.name} deleted")
        return 0
    if sys.stdin.isatty():
        import getpass

        value = getpass.getpass(f"value of {args.name}: ")
    else:
        value = sys.stdin.read().rstrip("\n")
    client.set_secret(args.name, value)
    console.info(f"secret {args.name} saved; jobs get it as ${args.name}")
    return 0


def cmd_generate_requirements(args) -> int:
    from . import console
    from .pyenv.generate import generate_requirements

    text = generate_requirements([Path(f) for f in args.files])
    if args.output:
        Path(args.output).write_text(text)
        console.info(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_envs(args) -> int:
    """The host's env cache, then each Docker env volume of this data dir (listed and pruned by the
    same code, run in a short container of the volume's image)."""
    from . import console
    from .pyenv.cache import EnvCache, format_entries
    from .settings import load_settings
    from .spec.units import format_size, parse_size

    settings = load_settings()
    cache = EnvCache(Path(settings.data_dir) / "envs")
    docker = _docker_envs(settings)
    if args.action == "list":
        entries = cache.list()
        print(f"{cache.root}:")
        print(format_entries(entries) if entries else "no cached environments")
        for volume, image in docker.env_volumes() if docker else []:
            print(f"\nDocker volume {volume} (image {image}):")
            print(docker.env_cache(volume, image, "list").rstrip())
        return 0
    try:
        limit = parse_size(args.max_size)
    except ValueError as exc:
        raise JobsError(f"--max-size: {exc}") from None
    removed = cache.prune(limit)
    kept = format_size(sum(e.size_bytes for e in cache.list()))
    console.info(f"evicted {_plural(len(removed), 'environment')}; {kept} kept")
    for volume, image in docker.env_volumes() if docker else []:
        out = docker.env_cache(volume, image, "prune", "--max-bytes", str(limit))
        console.info(f"Docker volume {volume}: evicted {_plural(out.count('removed '), 'environment')}")
    return 0


def _docker_envs(settings):
    """The Docker executor when its engine answers, else None. Unreachable is only worth a note when
    the operator configured Docker as an executor."""
    from .executors import make_executor

    try:
        docker = make_executor("docker", settings)
        docker.client  # noqa: B018 - connects, or says why not
        return docker
    except JobsError as exc:
        if "docker" in settings.executors:
            from . import console

            console.info(f"note: Docker environments not shown: {exc}")
        return None


def cmd_instance_types(args) -> int:
    from . import console

    entries = _client().instance_types(args.executor)
    if args.format == "json":
        print(json.dumps([{**t.model_dump(), "available": reason is None, "reason": reason}
                          for t, reason in entries], indent=1))
        return 0
    rows = [[t.name, f"{t.cpus:g}", f"{t.memory_gb:g}", f"{t.gpus:g}" if t.gpus else "-",
             t.gpu_kind or "-", "yes" if reason is None else f"no: {reason}"] for t, reason in entries]
    print(console.table(["NAME", "VCPU", "RAM GB", "GPUS", "GPU KIND", "RUNS HERE"], rows))
    return 0


COMMANDS = {
    "execute": cmd_execute, "run": cmd_run, "fork": cmd_fork, "attach": cmd_attach, "list": cmd_list, "get": cmd_get,
    "logs": cmd_logs, "cancel": cmd_cancel, "download-files": cmd_download_files,
    "set-data-ttl": cmd_set_data_ttl, "delete": cmd_delete, "cleanup": cmd_cleanup,
    "instance-types": cmd_instance_types, "secrets": cmd_secrets,
    "generate-requirements": cmd_generate_requirements, "envs": cmd_envs,
}


def entry() -> None:
    """The console script: `main`, then exit at once.

    Tearing down the interpreter (SQLAlchemy, pydantic and their module graphs) costs about 0.1 s after
    the job has already ended; nothing of ours needs it (the database commits as it goes, and a SQLite
    WAL left open is checkpointed by the next process), so flush what was printed and leave.
    """
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":
    entry()
