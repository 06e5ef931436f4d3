"""The one way a job is submitted: spec + captured files -> uploaded bundle -> submitted Run.

Every front door goes through here, with either client (embedded or remote): the CLI (`execute`, `run`,
`fork`'s new inputs), the magics (`%%job`, `%job run`), the Lab's "Run as job" handler and the Python
API (`jupyter_jobs.api`). What differs between them is only how the spec is built (a config file,
`Job(...)`, a cell or a notebook: `notebook/build.py`).
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Callable
from pathlib import Path

from .capture.files import Captured, capture_inputs, capture_python
from .pyenv.lock import EnvLock
from .service.schemas import ForkRequest, Origin, Run, Schedule, ScheduleRequest, ScheduleTiming, SubmitRequest
from .spec.models import FileRef, JobSpec


def current_user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return os.environ.get("USER")


def capture(spec: JobSpec, base_dir: Path, settings, lines: dict[str, int] | None = None,
            ) -> tuple[Captured, EnvLock | None]:
    """Hash a spec's inputs (size limits checked before any upload) and, when it asks for `env.python`,
    detect and pin its Python environment and ship its local modules. Errors name the config key
    (and line, given `lines`)."""
    from .pyenv.detect import resolve_python_env

    captured = capture_inputs(spec.inputs, base_dir, settings.max_file_size, settings.max_upload_size, lines)
    lock = None
    if spec.env.python:
        lock = resolve_python_env(spec.env.python, spec.cmd, base_dir)
        capture_python(lock, base_dir, captured)
    return captured, lock


def uploaded_request(client, spec: JobSpec, captured: Captured, base_dir: Path, source: str | None,
                     executor: str | None = None, idempotency_key: str | None = None, user: str | None = None,
                     on_upload: Callable | None = None, parameters: dict | None = None) -> SubmitRequest:
    """Upload the blobs the service lacks; the job's submit request. `source` is what the job came from
    (a config file, a notebook, "cell"); `on_upload(report)` may say what was uploaded; `parameters`: a
    notebook run's (shown by `list` and the Lab)."""
    report = client.upload(captured)
    if on_upload is not None:
        on_upload(report)
    shown: dict[str, str] = {}
    if parameters:
        from .notebook.parameters import injected_literals

        shown = injected_literals(parameters)
    origin = Origin(base_dir=str(base_dir), source=source, host=socket.gethostname(),
                    user=user if user is not None else current_user(), parameters=shown)
    return SubmitRequest(spec=spec, bundle=captured.bundle, origin=origin, executor=executor,
                         idempotency_key=idempotency_key)


def submit(client, spec: JobSpec, captured: Captured, base_dir: Path, source: str | None,
           executor: str | None = None, idempotency_key: str | None = None, user: str | None = None,
           on_upload: Callable | None = None, parameters: dict | None = None) -> Run:
    """Upload what the service lacks, then submit (`uploaded_request` says what the arguments are)."""
    return client.submit(uploaded_request(client, spec, captured, base_dir, source, executor, idempotency_key,
                                          user, on_upload, parameters))


def schedule(client, spec: JobSpec, captured: Captured, base_dir: Path, source: str | None,
             timing: ScheduleTiming, executor: str | None = None, on_upload: Callable | None = None,
             user: str | None = None, parameters: dict | None = None) -> Schedule:
    """Upload what the service lacks, then save the job to be submitted at each tick of `timing` (the
    same request `submit` would send)."""
    job = uploaded_request(client, spec, captured, base_dir, source, executor, user=user, on_upload=on_upload,
                           parameters=parameters)
    return client.create_schedule(ScheduleRequest(timing=timing, job=job))


def _with_prepared(send: Callable, client, prepared, source: str | None, *args, **kwargs):
    """`send` (submit or schedule) a cell or notebook job (`notebook.build.Prepared`); its temp files
    are removed either way."""
    try:
        return send(client, prepared.spec, prepared.captured, prepared.base_dir, source, *args,
                    parameters=prepared.parameters, **kwargs)
    finally:
        prepared.cleanup()


def submit_prepared(client, prepared, source: str | None, executor: str | None = None, **kwargs) -> Run:
    return _with_prepared(submit, client, prepared, source, executor, **kwargs)


def schedule_prepared(client, prepared, source: str | None, timing: ScheduleTiming, executor: str | None = None,
                      **kwargs) -> Schedule:
    return _with_prepared(schedule, client, prepared, source, timing, executor, **kwargs)


def fork(client, parent: Run, request: ForkRequest, new_inputs: dict[str, str], base_dir: Path) -> Run:
    """Fork `parent` with `request`; `new_inputs` (input variable -> a path here, relative to `base_dir`)
    are captured and uploaded first, then replace the parent's inputs of those variables."""
    for var, path in new_inputs.items():
        ref = FileRef(path=str((base_dir / path).resolve()), var=var)
        captured = capture_inputs([ref], base_dir, client.settings.max_file_size, client.settings.max_upload_size)
        client.upload(captured)
        request.inputs[var] = captured.bundle.inputs[0]
    return client.fork(parent.id, request)
