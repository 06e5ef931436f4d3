"""Routes for the Lab UI: notebooks under the server's root (their parameters, running them as jobs),
outputs exported into the root, a run's resolved environment."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..errors import NotFound
from ..runner.protocol import Status
from ..service.outputs import check_output_path, open_output
from ..service.schemas import Run, Schedule
from .base import Invalid, JobsHandler
from .models import (
    ExportedFile,
    ExportRequest,
    NotebookJob,
    NotebookParameter,
    NotebookParameters,
    NotebookRunRequest,
    NotebookScheduleRequest,
    RunEnvironment,
    RunSummary,
    ShownOutput,
)


# -- for the Lab UI: notebooks under the server root, outputs opened there, a run's environment --------------
def under_root(root: str | os.PathLike, rel: str, what: str = "path") -> Path:
    """`root/rel` for a contents-API path; refuses absolute paths, `..` and what resolves outside root."""
    rel = rel.strip().lstrip("/")
    if "\x00" in rel or not rel or any(part == ".." for part in re.split(r"[/\\]", rel)):
        raise Invalid(f"{what}: {rel!r} is not a path inside the server's root", field=what)
    real_root = Path(root).resolve()
    target = (real_root / rel).resolve()
    if not target.is_relative_to(real_root):
        raise Invalid(f"{what}: {rel!r} is outside the server's root", field=what)
    return target


def _literal(source: str) -> Any:
    import ast

    try:
        value = ast.literal_eval(source)
        json.dumps(value)
        return value
    except Exception:  # an expression, or not JSON-able: the form shows the source
        return None


def _inspect_notebook(path: Path, rel: str) -> NotebookParameters:
    if not path.is_file():
        raise NotFound(f"notebook {rel} not found")
    try:
        from papermill.iorw import load_notebook_node

        nb = load_notebook_node(str(path))
    except Exception as exc:
        raise Invalid(f"path: {rel} is not a notebook: {exc}", field="path") from None
    return _describe(nb, rel)


def _run_parameters(service, run_id: str) -> NotebookParameters:
    """A notebook run's parameters as the fork form shows them: `value` is what the run used."""
    from ..notebook.rerun import read_job, read_notebook

    bundle = service.submission(run_id).bundle
    job = read_job(bundle, service.blobs)
    return _describe(read_notebook(bundle, service.blobs, job), job["notebook"], job.get("parameters", {}))


def _describe(nb, rel: str, used: dict | None = None) -> NotebookParameters:
    """The `parameters` cell's names, types and defaults (papermill's inference); `used` overrides
    the values shown."""
    from ..notebook.parameters import notebook_parameters

    used = used or {}
    has_cell = any("parameters" in cell.get("metadata", {}).get("tags", []) for cell in nb.cells)
    params = []
    for p in notebook_parameters(nb):
        value = _literal(p.default)
        kind = p.inferred_type_name
        if kind in (None, "", "None") and value is not None:  # no annotation: the default's type
            kind = type(value).__name__
        params.append(NotebookParameter(name=p.name, type=kind or "None", default=p.default,
                                        value=used.get(p.name, value), help=p.help or ""))
    return NotebookParameters(path=rel, has_parameters_cell=has_cell, parameters=params)


def _prepare_notebook(settings, path: Path, request: NotebookJob):
    """What `jupyter jobs run` builds, in the server: the notebook job with its detected environment."""
    from ..notebook.build import Options, prepare_notebook
    from ..notebook.results import staging_output

    if not path.is_file():
        raise NotFound(f"notebook {request.path} not found")
    options = Options(name=request.name or None, instance=request.instance_type or None,
                      executor=request.executor or None)
    return prepare_notebook(path, request.parameters, options, settings, staging_output(path))


def _submit_notebook(service, settings, path: Path, request: NotebookRunRequest, user: str | None,
                     key: str | None) -> Run:
    """What `jupyter jobs run` does, in the server: detect, upload into the store, submit."""
    from ..client import EmbeddedClient
    from ..submit import submit_prepared

    if key:
        existing = service.find_by_key(key)
        if existing:
            return existing
    return submit_prepared(EmbeddedClient(settings, service), _prepare_notebook(settings, path, request), str(path),
                           request.executor or None, idempotency_key=key, user=user)


def _schedule_notebook(service, settings, path: Path, request: NotebookScheduleRequest,
                       user: str | None) -> Schedule:
    """The notebook job `_submit_notebook` would submit, saved to be submitted on `request.timing`."""
    from ..client import EmbeddedClient
    from ..submit import schedule_prepared

    return schedule_prepared(EmbeddedClient(settings, service), _prepare_notebook(settings, path, request),
                             str(path), request.timing, request.executor or None, user=user)


def _export_output(service, root: str, run_id: str, rel: str, dest: str | None = None) -> ExportedFile:
    """Copy one output file into the server's root: to `dest` as given, else where the CLI brings it
    back (the executed notebook under its one name, other files to their declared place) when that is
    inside the root, else under `jobs-outputs/RUNID/`."""
    import shutil

    run: Run = service.get(run_id)
    if run.data_deleted:
        raise NotFound(f"job {run.id}'s data expired and was deleted")
    check_output_path(rel)
    real_root = Path(root).resolve()
    target = _default_place(run, rel, real_root)
    if dest:  # as given; into a folder (existing, or ending in /) under its usual name
        given = under_root(root, dest, "dest")
        target = given / target.name if dest.endswith("/") or given.is_dir() else given
    target.parent.mkdir(parents=True, exist_ok=True)
    with open_output(service.outputs_dir(run.id), rel) as src, open(target, "wb") as out:
        shutil.copyfileobj(src, out)
    return ExportedFile(path=target.relative_to(real_root).as_posix(), size=target.stat().st_size)


def _default_place(run: Run, rel: str, real_root: Path) -> Path:
    from ..notebook.results import executed_notebook_path
    from ..runner.protocol import is_executed_notebook
    from ..spec.bundle import local_path

    entry = next((e for e in run.outputs if any(f.path == rel for f in e.files)), None)
    place: Path | None = None
    shown = rel
    if entry is not None and is_executed_notebook(entry.src):
        place = executed_notebook_path(run)
        shown = place.name if place else rel
    elif entry is not None and run.origin.base_dir:
        within = rel[len(entry.src):].lstrip("/")
        declared = local_path(entry.name, run.origin.base_dir)
        place = (declared / within) if within else declared
    if place is None or not place.resolve().is_relative_to(real_root):
        place = real_root / "jobs-outputs" / run.id / shown
    return place.resolve()


def _summary(service, root: str, run_id: str) -> RunSummary:
    """The outputs by the names the CLI shows and a failed notebook's or cell's traceback."""
    from ..notebook.results import executed_notebook_path, failure_traceback, internal_output

    run: Run = service.get(run_id)
    executed = executed_notebook_path(run)
    shown_name = None
    if executed is not None:
        real_root = Path(root).resolve()
        resolved = executed.resolve()
        shown_name = resolved.relative_to(real_root).as_posix() if resolved.is_relative_to(real_root) \
            else str(executed)
    outputs = []
    for entry in run.outputs:
        if internal_output(entry):
            continue
        for file in entry.files:
            if entry.executed_notebook:
                outputs.append(ShownOutput(name=shown_name or Path(file.path).name, path=file.path, size=file.size,
                                           executed_notebook=True))
            else:
                outputs.append(ShownOutput(name=file.path, path=file.path, size=file.size))
    traceback = None
    if run.status == Status.FAILED and run.kind in ("notebook", "cell"):
        traceback = failure_traceback(service.events(run.id)[0])
    return RunSummary(run_id=run.id, executed_notebook=shown_name, outputs=outputs, traceback=traceback)


def _environment(service, run_id: str) -> RunEnvironment:
    run_id = service.resolve_id(run_id)
    submitted = service.submission(run_id)
    env = submitted.spec.env
    lock = submitted.bundle.python or {}
    docker = env.docker.image if env.docker else None
    kind = "python" if lock else "docker" if docker else "plain"
    return RunEnvironment(run_id=run_id, kind=kind, python=lock.get("python"),
                          requirements=list(lock.get("requirements") or []),
                          constraints=list(lock.get("constraints") or []), docker_image=docker,
                          env_vars=sorted(env.vars),
                          unresolved=dict(lock.get("unresolved") or {}), warnings=list(lock.get("warnings") or []))


class NotebookParametersHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self):
        rel = self.get_argument("path", "")
        path = under_root(self.jobs.serverapp.root_dir, rel)
        self.send(await self.jobs.run_in_pool(_inspect_notebook, path, rel.strip().lstrip("/")))


class RunParametersHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str):
        self.send(await self.call(_run_parameters, run_id))


class NotebookRunHandler(JobsHandler):
    @web.authenticated
    @authorized("execute")  # it starts a job, as a submit does
    async def post(self):
        request: NotebookRunRequest = self.body(NotebookRunRequest)
        key = self.idempotency_key(request.idempotency_key)
        path = under_root(self.jobs.serverapp.root_dir, request.path)
        run = await self.call(_submit_notebook, self.jobs.jobs_settings, path, request, self.user_name, key)
        self.send(run, 201)


class NotebookScheduleHandler(JobsHandler):
    @web.authenticated
    @authorized("execute")  # it starts jobs, as a submit does
    async def post(self):
        request: NotebookScheduleRequest = self.body(NotebookScheduleRequest)
        path = under_root(self.jobs.serverapp.root_dir, request.path)
        self.send(await self.call(_schedule_notebook, self.jobs.jobs_settings, path, request, self.user_name), 201)


class ExportHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def post(self, run_id: str):
        request: ExportRequest = self.body(ExportRequest)
        self.send(await self.call(_export_output, self.jobs.serverapp.root_dir, run_id, request.path, request.dest))


class SummaryHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str):
        self.send(await self.call(_summary, self.jobs.serverapp.root_dir, run_id))


class EnvironmentHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str):
        self.send(await self.call(_environment, run_id))


