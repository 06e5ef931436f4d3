"""Commands that start or follow a job: execute, run, fork, attach; and bringing its outputs back."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from ..errors import ConfigError, JobsError
from ..runner import protocol
from ..runner.protocol import Status
from ..spec.units import plural
from .common import EXIT_DETACHED, _client, _pairs, _step


# -- commands ---------------------------------------------------------------------------------------
def cmd_execute(args) -> int:
    from ..submit import submit

    client, run = send_config(args.config, lambda client, *job, on_upload: submit(
        client, *job, args.executor, on_upload=on_upload), submitting=True)
    return _after_submit(client, run, args)


def send_config(config: str, send, submitting: bool = False):
    """Read a config.yaml (its warnings said), capture its inputs (the Python detected said), then
    `send(client, spec, captured, base_dir, source, on_upload=...)`: `execute` submits the job,
    `schedule create` schedules it (`submitting`: `send` submits, see `connect`). A ConfigError names
    the file and line. Returns (client, sent)."""
    from .. import console
    from ..spec.config import load_config
    from ..spec.units import format_size
    from ..submit import capture

    loaded = load_config(config)
    for warning in loaded.warnings:
        console.info(f"warning: {loaded.source}: {warning}")
    client = _client(submitting)

    def uploaded(report) -> None:
        if report.new_files:
            console.info(f"uploaded {plural(report.new_files, 'file')} ({format_size(report.new_bytes)})"
                         + (f", {report.stored_files} already stored" if report.stored_files else ""))
        elif captured.sources:
            console.info(f"nothing to upload: all {plural(report.stored_files, 'input file')} already stored")
        _step("submitting the job")

    try:
        captured, lock = capture(loaded.spec, loaded.base_dir, client.settings, loaded.lines)
        if lock is not None:
            _say_python(lock)
        _step("uploading the job's inputs")
        sent = send(client, loaded.spec, captured, loaded.base_dir, str(Path(config).resolve()), on_upload=uploaded)
    except ConfigError as exc:  # name the file and line, as for every other config error
        raise loaded.locate(exc) from None
    return client, sent


def _say_python(lock) -> None:
    """What the static detection of the job's Python environment found."""
    from .. import console

    pins = ", ".join(lock.requirements[:6]) + (", ..." if len(lock.requirements) > 6 else "")
    console.info(f"python {lock.python}: {plural(len(lock.requirements), 'requirement')} ({pins or 'none'}), "
                 f"{plural(len(lock.local_files) + len(lock.extra_files), 'local file')}")
    if lock.optional_missing:
        console.info(f"optional imports not installed here, left out: {', '.join(lock.optional_missing)}")
    for module, where in lock.unresolved.items():
        console.info(f"warning: `import {module}` ({', '.join(where)}) is neither installed here nor local; "
                     f"the job may fail to import it")
    for warning in lock.warnings:
        console.info(f"warning: {warning}")


def cmd_run(args) -> int:
    """A notebook as a job; the executed notebook always comes back, also when a cell failed."""
    from .. import console
    from ..notebook.results import executed_notebook_path, staging_output
    from ..submit import submit_prepared

    if args.output and args.output_path and Path(args.output) != Path(args.output_path):
        raise JobsError(f"two output notebooks given: {args.output_path} and -o {args.output}")
    output = args.output or args.output_path
    client = _client(submitting=True)
    prepared = prepare_notebook_job(client, args, Path(output).resolve() if output else staging_output(args.notebook))
    run = submit_prepared(client, prepared, str(Path(args.notebook).resolve()), args.executor)
    if args.is_async:
        console.info(f"the executed notebook comes back as {executed_notebook_path(run)} when you "
                     f"`jupyter jobs attach {run.id}`")
    args.output = None  # _after_submit's -o is execute's job id file
    return _after_submit(client, run, args)


def prepare_notebook_job(client, args, output: Path):
    """The notebook job of `run`'s and `schedule create --notebook`'s flags (parser._add_notebook_job):
    parameters checked against the notebook, environment detected, warnings said."""
    from .. import console
    from ..notebook.build import Options, prepare_notebook
    from ..notebook.parameters import from_args

    split = lambda values: [x.strip() for v in values or [] for x in v.split(",") if x.strip()]  # noqa: E731
    parameters = from_args(args)
    options = Options(name=args.name, instance=args.instance, inputs=split(args.inputs),
                      outputs=split(args.outputs), env=_pairs(args.env_var, "--env-var"), timeout=args.timeout,
                      executor=args.executor, lenient=args.lenient)
    prepared = prepare_notebook(args.notebook, parameters, options, client.settings, output)
    for warning in prepared.warnings:
        console.info(f"warning: {warning}")
    if parameters:
        console.info("parameters: " + ", ".join(f"{k}={v!r}" for k, v in parameters.items()))
    return prepared


def cmd_fork(args) -> int:
    """A fork's outputs never land on its parent's: they go to `-o DIR`, else `NAME-FORKID/` beside the
    parent's (its executed notebook to `NAME-FORKID.ipynb`), or with --force to the parent's places."""
    from .. import console
    from ..notebook.parameters import load_parameters
    from ..service.schemas import ForkRequest
    from ..submit import fork

    client = _client(submitting=True)
    parent = client.get(client.resolve_id(args.id))
    variables = _pairs(args.var, "--var")
    input_vars = {ref.var for ref in parent.spec.inputs if ref.var}
    request = ForkRequest(args=_pairs(args.arg, "--arg"), env_vars=_pairs(args.env_var, "--env-var"),
                          parameters=load_parameters(args.parameters, args.raw_parameters, args.parameter_files,
                                                     args.parameter_yaml),
                          instance_type=args.instance_type, name=args.name, desc=args.desc, lenient=args.lenient)
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
    from .. import console

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
    from .. import console
    from ..notebook.results import failure_traceback

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
    from .. import console
    from ..notebook.results import download_executed_notebook, executed_notebook_path, split_outputs
    from ..spec.units import format_size

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
        console.info(f"downloaded {plural(len(report.files), 'output file')} ({format_size(report.bytes)})"
                     + (f" to {output_dir}" if output_dir else ""))
    for name in report.missing + ([notebook.name] if notebook is not None and notebook.missing else []):
        console.info(f"warning: output {name} was not produced by the job")
    for message in report.refused:
        console.info(f"warning: {message}")
    if report.skipped:
        console.info(f"skipped {plural(len(report.skipped), 'output file')} over the download limit: "
                     f"{', '.join(report.skipped[:5])}; use `jupyter jobs download-files {run.id}`")
