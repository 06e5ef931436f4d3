"""`jupyter jobs ...`: the DataSphere-compatible command line (execute, fork, attach, list, ...).

User mistakes end in one line on stderr and exit code 2; `execute` and `attach` exit with the
job's own exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from pathlib import Path

from .errors import ConfigError, JobsError

EXIT_USAGE = 2
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jupyter jobs", description=__doc__.splitlines()[0])
    from ._version import __version__

    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("execute", help="run a job from a config.yaml and stream its output")
    p.add_argument("-c", "--config", required=True, help="the job's config.yaml")
    p.add_argument("--async", dest="is_async", action="store_true", help="submit and return at once")
    p.add_argument("-o", "--output", help="with --async: write {\"job_id\": ...} to this file")
    p.add_argument("--executor", help="executor to run on (default: the first configured)")

    # `run`: a notebook as a job, executed with papermill in the job (jupyter_jobs/notebook/build.py).
    p = sub.add_parser("run", help="run a notebook as a job (papermill), its parameters checked before submit")
    p.add_argument("notebook", metavar="NOTEBOOK")
    p.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"), dest="parameters",
                   help="a parameter; VALUE is typed as YAML reads it (3, 0.5, true, text)")
    p.add_argument("-f", "--parameters-file", action="append", dest="parameter_files", metavar="FILE",
                   help="YAML file of parameters (repeatable; -p wins)")
    p.add_argument("-i", "--instance", "--cloud-instance-type", dest="instance", help="instance type")
    p.add_argument("-o", "--output", help="executed notebook (default: NAME-<run id>.ipynb beside NOTEBOOK)")
    p.add_argument("--name")
    p.add_argument("--inputs", action="append", metavar="FILES", help="files the notebook reads (comma-separated)")
    p.add_argument("--outputs", action="append", metavar="FILES", help="files it writes, brought back")
    p.add_argument("--env-var", action="append", metavar="NAME=VALUE")
    p.add_argument("--timeout", type=float, metavar="S")
    p.add_argument("--executor")
    p.add_argument("--async", dest="is_async", action="store_true", help="submit and return at once")

    p = sub.add_parser("fork", help="run a job again with changes")
    p.add_argument("--id", required=True, type=_id)
    p.add_argument("--arg", action="append", metavar="NAME=VALUE", help="override an argument")
    p.add_argument("--var", action="append", metavar="NAME=PATH", help="another file for a variable")
    p.add_argument("--env-var", action="append", metavar="NAME=VALUE", help="set an environment variable")
    p.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"), dest="parameters",
                   help="change a notebook run's parameter; VALUE is typed as YAML reads it")
    p.add_argument("--cloud-instance-type", "--instance", dest="instance_type")
    p.add_argument("--name")
    p.add_argument("--desc")
    p.add_argument("--async", dest="is_async", action="store_true")
    p.add_argument("-o", "--output")

    p = sub.add_parser("attach", help="follow a running job's output; outputs come back at the end")
    p.add_argument("--id", required=True, type=_id)

    p = sub.add_parser("list", help="run history, newest first")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--status", action="append", help="only runs with this status (repeatable)")
    p.add_argument("--limit", type=int, default=100)

    p = sub.add_parser("get", help="one run's details")
    p.add_argument("--id", required=True, type=_id)
    p.add_argument("--format", choices=("table", "json"), default="table")

    p = sub.add_parser("logs", help="a run's logs")
    p.add_argument("--id", required=True, type=_id)
    p.add_argument("--stream", choices=("all", "stdout", "stderr", "system"), default="all")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing until the job ends")
    p.add_argument("--timestamps", "-t", action="store_true")

    p = sub.add_parser("cancel", help="stop a job")
    p.add_argument("--id", required=True, type=_id)
    p.add_argument("--graceful", action="store_true",
                   help="send the job's graceful-shutdown signal and wait its timeout before killing")

    p = sub.add_parser("download-files", help="copy a run's outputs (and logs) here")
    p.add_argument("--id", required=True, type=_id)
    p.add_argument("--with-logs", action="store_true")
    p.add_argument("--output-dir", default=".")

    p = sub.add_parser("set-data-ttl", help="how long a run's logs and outputs are kept")
    p.add_argument("--id", required=True, type=_id)
    p.add_argument("--days", required=True, help="a number of days, or inf")

    p = sub.add_parser("delete", help="delete a finished run and its data")
    p.add_argument("--id", required=True, type=_id)

    sub.add_parser("cleanup", help="delete data of runs past their TTL now")

    p = sub.add_parser("secrets", help="values jobs get as environment variables, never shown")
    secrets = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = secrets.add_parser("set", help="create or replace a secret; the value is read from stdin or a prompt")
    q.add_argument("name")
    secrets.add_parser("list", help="secret names (never values)")
    q = secrets.add_parser("delete", help="delete a secret")
    q.add_argument("name")

    p = sub.add_parser("generate-requirements", help="requirements.txt of scripts, detected without running them")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("-o", "--output", help="write here instead of stdout")

    p = sub.add_parser("envs", help="cached job environments")
    envs = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    envs.add_parser("list", help="cached environments, most recently used first")
    q = envs.add_parser("prune", help="evict least recently used environments")
    q.add_argument("--max-size", default="0", help="keep at most this much, e.g. 5GB (default: evict all unused)")

    p = sub.add_parser("instance-types", help="instance types and whether they run here")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--executor")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from . import console

    try:
        return COMMANDS[args.command](args) or 0
    except JobsError as exc:
        console.info(f"error: {exc}")
        return EXIT_USAGE
    except BrokenPipeError:  # `jupyter jobs list | head`
        return 0


def _client():
    from .client import connect

    return connect()


# -- commands ---------------------------------------------------------------------------------------
def cmd_execute(args) -> int:
    from . import console
    from .capture.files import capture_inputs
    from .service.schemas import Origin, SubmitRequest
    from .spec.config import load_config
    from .spec.units import format_size

    loaded = load_config(args.config)
    for warning in loaded.warnings:
        console.info(f"warning: {loaded.source}: {warning}")
    client = _client()
    settings = client.settings
    try:
        captured = capture_inputs(loaded.spec.inputs, loaded.base_dir, settings.max_file_size,
                                  settings.max_upload_size, loaded.lines)
        if loaded.spec.env.python:
            _capture_python(loaded, captured)
        report = client.upload(captured)
        if report.new_files:
            console.info(f"uploaded {report.new_files} files ({format_size(report.new_bytes)})"
                         + (f", {report.stored_files} already stored" if report.stored_files else ""))
        elif captured.sources:
            console.info(f"nothing to upload: all {report.stored_files} input files already stored")
        origin = Origin(base_dir=str(loaded.base_dir), source=str(Path(args.config).resolve()),
                        host=socket.gethostname(), user=_user())
        run = client.submit(SubmitRequest(spec=loaded.spec, bundle=captured.bundle, origin=origin,
                                          executor=args.executor))
    except ConfigError as exc:  # name the file and line, as for every other config error
        raise loaded.locate(exc) from None
    return _after_submit(client, run, args)


def _capture_python(loaded, captured) -> None:
    """Detect (statically) and pin the job's Python environment, ship its local modules, say what was found."""
    from . import console
    from .capture.files import capture_code
    from .pyenv.detect import resolve_python_env

    lock = resolve_python_env(loaded.spec.env.python, loaded.spec.cmd, loaded.base_dir)
    files = {rel: loaded.base_dir / rel for rel in lock.local_files}
    files.update({dest: Path(src) for dest, src in lock.extra_files.items()})
    capture_code(files, captured)
    captured.bundle.python = lock.to_dict()
    pins = ", ".join(lock.requirements[:6]) + (", ..." if len(lock.requirements) > 6 else "")
    console.info(f"python {lock.python}: {len(lock.requirements)} requirements ({pins or 'none'}), "
                 f"{len(files)} local files")
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
    from .notebook.build import Options, load_parameters, prepare_notebook, staging_output, submit

    split = lambda values: [x.strip() for v in values or [] for x in v.split(",") if x.strip()]  # noqa: E731
    parameters = load_parameters(args.parameters, args.parameter_files)
    options = Options(name=args.name, instance=args.instance, inputs=split(args.inputs),
                      outputs=split(args.outputs), env=_pairs(args.env_var, "--env-var"), timeout=args.timeout,
                      executor=args.executor)
    target = Path(args.output).resolve() if args.output else staging_output(args.notebook)
    client = _client()
    prepared = prepare_notebook(args.notebook, parameters, options, client.settings, target)
    for warning in prepared.warnings:
        console.info(f"warning: {warning}")
    if parameters:
        console.info("parameters: " + ", ".join(f"{k}={v!r}" for k, v in parameters.items()))
    run = submit(client, prepared, str(Path(args.notebook).resolve()), args.executor)
    if args.is_async:
        console.info(f"the executed notebook comes back as {target} (`jupyter jobs attach --id {run.id}`)")
        args.output = None  # _after_submit's -o is for the job id file
        return _after_submit(client, run, args)
    code = _after_submit(client, run, args)
    run = client.get(run.id)
    final = target if args.output else (_name_executed_notebook(run.id, args.notebook) or target)
    if final.exists():
        console.info(f"executed notebook: {final}")
    if run.status == "FAILED":
        console.info(f"error: {run.error}")
    return code


def cmd_fork(args) -> int:
    from . import console
    from .capture.files import capture_inputs
    from .notebook.build import NOTEBOOK_VAR, load_parameters, staging_output
    from .service.schemas import ForkRequest
    from .spec.models import FileRef

    client = _client()
    parent = client.get(client.resolve_id(args.id))
    variables = _pairs(args.var, "--var")
    input_vars = {ref.var for ref in parent.spec.inputs if ref.var}
    request = ForkRequest(args=_pairs(args.arg, "--arg"), env_vars=_pairs(args.env_var, "--env-var"),
                          parameters=load_parameters(args.parameters, None),
                          instance_type=args.instance_type, name=args.name, desc=args.desc)
    for var, path in variables.items():
        if var not in input_vars:
            request.outputs[var] = path
            continue
        full = str(Path(path).resolve())
        captured = capture_inputs([FileRef(path=full, var=var)], Path.cwd(),
                                  client.settings.max_file_size, client.settings.max_upload_size)
        client.upload(captured)
        request.inputs[var] = captured.bundle.inputs[0]
    try:
        run = client.fork(parent.id, request)
    except ConfigError as exc:
        if exc.key == "cloud-instance-type" and args.instance_type:
            exc.key = "--cloud-instance-type"  # the flag, not the parent's config, asked for it
        raise
    code = _after_submit(client, run, args)
    staged = [ref.path for ref in run.spec.outputs if ref.var == NOTEBOOK_VAR]
    source = parent.origin.source
    if not args.is_async and source and staged == [str(staging_output(source))]:
        final = _name_executed_notebook(run.id, source)
        if final:
            console.info(f"executed notebook: {final}")
    return code


def _name_executed_notebook(run_id: str, notebook: str) -> Path | None:
    """The executed notebook came back under the staging name: give it the run's (`NAME-RUNID.ipynb`)."""
    from .notebook.build import default_output, staging_output

    staged = staging_output(notebook)
    if not staged.exists():
        return None
    final = default_output(notebook, run_id)
    os.replace(staged, final)
    return final


def _after_submit(client, run, args) -> int:
    from . import console

    console.info(f"job {run.id} created ({run.instance_type} on {run.executor})")
    for note in run.notes:
        console.info(f"note: {note}")
    if args.is_async:
        if args.output:
            Path(args.output).write_text(json.dumps({"job_id": run.id}))
        print(run.id)
        return 0
    return _follow_to_end(client, run.id)


def cmd_attach(args) -> int:
    client = _client()
    return _follow_to_end(client, client.resolve_id(args.id))


def _follow_to_end(client, run_id: str) -> int:
    """Stream the job, then bring outputs back; Ctrl-C asks whether to cancel or detach."""
    from . import console

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
                             f"`jupyter jobs attach --id {run_id}`")
                return EXIT_DETACHED
            client.cancel(run_id, graceful=True)
            console.info("cancelling (graceful)...")
            offset = 0
            printer = console.EventPrinter(streams={"system"})  # what was printed already is not repeated
    run = client.get(run_id)
    _download(client, run)
    tail = f" in {console.duration(run)}" if run.started_at else ""
    code = f" (exit code {run.exit_code})" if run.exit_code is not None else ""
    console.info(f"job {run.id} {run.status}{tail}{code}" + (f": {run.error}" if run.error and
                                                                run.status != "FAILED" else ""))
    if run.status == "SUCCEEDED":
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


def _download(client, run, output_dir: Path | None = None) -> None:
    from . import console
    from .spec.units import format_size

    if not run.outputs or run.data_deleted:
        return
    report = client.download_outputs(run, output_dir)
    if report.files:
        console.info(f"downloaded {len(report.files)} output files ({format_size(report.bytes)})"
                     + (f" to {output_dir}" if output_dir else ""))
    for name in report.missing:
        console.info(f"warning: output {name} was not produced by the job")
    if report.skipped:
        console.info(f"skipped {len(report.skipped)} output files over the download limit: "
                     f"{', '.join(report.skipped[:5])}; use `jupyter jobs download-files --id {run.id}`")


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
    print(run.model_dump_json(indent=1) if args.format == "json" else console.run_details(run))
    return 0


def cmd_logs(args) -> int:
    from . import console
    from .runner import layout

    client = _client()
    run_id = client.resolve_id(args.id)
    streams = set(layout.STREAMS) if args.stream == "all" else {args.stream}
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
        files = client.download_logs(run.id, out)
        console.info(f"downloaded {len(files)} log files to {out / 'logs'}")
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
    console.info(f"deleted the data of {freed['runs']} expired runs; freed {format_size(freed['blob_bytes'])} "
                 f"of stored inputs")
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
    console.info(f"evicted {len(removed)} environments; {format_size(sum(e.size_bytes for e in cache.list()))} kept")
    for volume, image in docker.env_volumes() if docker else []:
        out = docker.env_cache(volume, image, "prune", "--max-bytes", str(limit))
        console.info(f"Docker volume {volume}: evicted {out.count('removed ')} environments")
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


def _user() -> str | None:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # no user name in some containers
        return os.environ.get("USER")


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
