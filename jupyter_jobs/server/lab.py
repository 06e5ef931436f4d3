"""Routes for the Lab UI: notebooks under the server's root (their parameters, running them as jobs),
outputs exported into the root, a run's resolved environment."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from jupyter_server.auth.decorator import authorized
from pydantic import BaseModel, ConfigDict, Field
from tornado import web

from ..errors import NotFound
from ..service.schemas import Run, SubmitRequest
from .base import Invalid, JobsHandler
from .handlers import safe_join


# -- for the Lab UI: notebooks under the server root, outputs opened there, a run's environment --------------
class NotebookParameter(BaseModel):
    name: str
    type: str = Field(description="papermill's type from the annotation, else the default literal's "
                                  "(int, float, str, bool, list, dict); None when it cannot tell.")
    default: str = Field(description="The default as written in the `parameters` cell (Python source).")
    value: Any = Field(default=None, description="The default as JSON, when it is a plain literal; for a run, "
                                                 "the value the run used.")
    help: str = ""


class NotebookParameters(BaseModel):
    path: str
    has_parameters_cell: bool
    parameters: list[NotebookParameter]


class NotebookRunRequest(BaseModel):
    """`jupyter jobs run NOTEBOOK -p ...` as data, for a notebook under the server's root."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, description="The notebook, relative to the server's root.")
    parameters: dict[str, Any] = Field(default_factory=dict)
    instance_type: str | None = None
    name: str | None = Field(default=None, max_length=200)
    executor: str | None = None
    idempotency_key: str | None = Field(default=None, max_length=128)


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, description="An output file's path from the outputs manifest.")


class ExportedFile(BaseModel):
    path: str = Field(description="Where the file now is, relative to the server's root (open it in Lab).")
    size: int


class RunEnvironment(BaseModel):
    """The run's environment as submitted: the Python lock (resolved packages) and the container image."""

    run_id: str
    kind: str = Field(description="python (a detected/locked environment), docker, or plain.")
    python: str | None = None
    requirements: list[str] = Field(default_factory=list)
    constraints: list[str] = Field(default_factory=list)
    docker_image: str | None = None
    env_vars: list[str] = Field(default_factory=list, description="Names of the job's environment variables.")
    unresolved: dict[str, list[str]] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)


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
    from ..spec.bundle import Bundle

    row = service._row(service.resolve_id(run_id))
    bundle = Bundle.model_validate(row.bundle)
    job = read_job(bundle, service.blobs)
    return _describe(read_notebook(bundle, service.blobs, job), job["notebook"], job.get("parameters", {}))


def _describe(nb, rel: str, used: dict | None = None) -> NotebookParameters:
    """The `parameters` cell's names, types and defaults (papermill's inference); `used` overrides
    the values shown."""
    from ..notebook.build import notebook_parameters

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


def _submit_notebook(service, settings, path: Path, request: NotebookRunRequest, user: str | None,
                     key: str | None) -> Run:
    """What `jupyter jobs run` does, in the server: detect, upload into the store, submit."""
    import socket

    from ..notebook.build import Options, prepare_notebook, staging_output
    from ..service.schemas import Origin

    if key:
        existing = service._by_key(key)
        if existing:
            return existing
    if not path.is_file():
        raise NotFound(f"notebook {request.path} not found")
    options = Options(name=request.name or None, instance=request.instance_type or None,
                      executor=request.executor or None)
    prepared = prepare_notebook(path, request.parameters, options, settings, staging_output(path))
    try:
        captured = prepared.captured
        for sha in service.missing_blobs(captured.sources):
            service.blobs.put_file(captured.sources[sha], sha)
        origin = Origin(base_dir=str(prepared.base_dir), source=str(path), host=socket.gethostname(), user=user)
        return service.submit(SubmitRequest(spec=prepared.spec, bundle=captured.bundle, origin=origin,
                                            executor=request.executor or None, idempotency_key=key))
    finally:
        prepared.cleanup()


def _export_output(service, root: str, run_id: str, rel: str) -> ExportedFile:
    """Copy one output file into the server's root: the executed notebook next to its source as
    `NAME-RUNID.ipynb`, other files to their declared place (as the CLI brings them back) when that is
    inside the root, else under `jobs-outputs/RUNID/`."""
    import shutil

    from ..notebook.build import NOTEBOOK_VAR, default_output
    from ..spec.bundle import local_path

    run: Run = service.get(run_id)
    if run.data_deleted:
        raise NotFound(f"job {run.id}'s data expired and was deleted")
    src = safe_join(service.outputs_dir(run.id), rel)
    real_root = Path(root).resolve()
    dest: Path | None = None
    for entry in run.outputs:
        if not any(f.path == rel for f in entry.files):
            continue
        if entry.src.startswith(f"_outputs/{NOTEBOOK_VAR}") and run.origin.source:
            dest = default_output(run.origin.source, run.id)
        elif run.origin.base_dir:
            within = rel[len(entry.src):].lstrip("/")
            target = local_path(entry.name, run.origin.base_dir)
            dest = (target / within) if within else target
        break
    if dest is None or not dest.resolve().is_relative_to(real_root):
        dest = real_root / "jobs-outputs" / run.id / rel
    dest = dest.resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return ExportedFile(path=dest.relative_to(real_root).as_posix(), size=dest.stat().st_size)


def _environment(service, run_id: str) -> RunEnvironment:
    row = service._row(service.resolve_id(run_id))
    spec = row.spec or {}
    env = spec.get("env") or {}
    lock = (row.bundle or {}).get("python") or {}
    docker = (env.get("docker") or {}).get("image") if isinstance(env.get("docker"), dict) else None
    kind = "python" if lock else "docker" if docker else "plain"
    return RunEnvironment(run_id=row.id, kind=kind, python=lock.get("python"),
                          requirements=list(lock.get("requirements") or []),
                          constraints=list(lock.get("constraints") or []), docker_image=docker,
                          env_vars=sorted((env.get("vars") or {}).keys()),
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
        service = await self.jobs.service()
        self.send(await self.jobs.run_in_pool(_run_parameters, service, run_id))


class NotebookRunHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def post(self):
        request: NotebookRunRequest = self.body(NotebookRunRequest)
        key = self.idempotency_key(request.idempotency_key)
        path = under_root(self.jobs.serverapp.root_dir, request.path)
        user = getattr(self.current_user, "username", None) or getattr(self.current_user, "name", None)
        service = await self.jobs.service()
        run = await self.jobs.run_in_pool(_submit_notebook, service, self.jobs.jobs_settings, path, request,
                                          user if isinstance(user, str) else None, key)
        self.send(run, 201)


class ExportHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def post(self, run_id: str):
        request: ExportRequest = self.body(ExportRequest)
        service = await self.jobs.service()
        self.send(await self.jobs.run_in_pool(_export_output, service, self.jobs.serverapp.root_dir, run_id,
                                              request.path))


class EnvironmentHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str):
        service = await self.jobs.service()
        self.send(await self.jobs.run_in_pool(_environment, service, run_id))


