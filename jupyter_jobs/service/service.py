"""JobsService: accepts specs, starts runs on executors, keeps the run index true to the run dirs.

The same class serves the CLI and magics in-process (the embedded default) and the Jupyter server
extension. It holds no state of its own that a restart could lose: the database indexes runs, and
each run's directory says how it is really doing.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, JobsError, NotFound, SubmitError
from ..executors import KNOWN, Executor, Launch, make_executor
from ..instances import Catalogue, InstanceType, refuse
from ..procs import is_gone
from ..runner import layout
from ..settings import JobsSettings
from ..spec.bundle import Bundle
from ..spec.models import JobSpec
from .blobs import BlobStore
from .db import RunRow, make_engine, sessions, upgrade
from .plan import build_plan
from .rundir import RunDir
from .scheduler import Scheduler
from .schemas import ForkRequest, Run, SubmitRequest
from .secrets import SecretStore

log = logging.getLogger(__name__)

_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_CLEANUP_EVERY = 3600.0


def new_run_id() -> str:
    """12 characters, sortable by creation time: 8 of milliseconds, 4 random."""
    ms = int(time.time() * 1000)
    stamp = "".join(_ID_ALPHABET[(ms >> (5 * i)) & 31] for i in reversed(range(8)))
    return stamp + "".join(secrets.choice(_ID_ALPHABET) for _ in range(4))


class JobsService:
    def __init__(self, settings: JobsSettings | None = None, executors: list[Executor] | None = None,
                 embedded: bool = True):
        self.settings = settings or JobsSettings()
        #: In-process (CLI, magics): a finishing runner starts what waits in the queue, since no
        #: long-lived process does. A server dispatches itself.
        self.embedded = embedded
        #: A server sets this to be told (from any thread) that a run was queued, to dispatch soon.
        self.wake: Callable[[], None] | None = None
        self.data_dir = Path(self.settings.data_dir)
        self.runs_dir = self.data_dir / "runs"
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(self.settings.db_url)
        upgrade(self.engine, self.data_dir)
        self.Session = sessions(self.engine)
        self.blobs = BlobStore(self.data_dir / "blobs")
        self.secrets = SecretStore(self.data_dir / "secrets.json")
        self.catalogue = Catalogue.load(self.settings.instance_types_file or None)
        executors = executors or [make_executor(name, self.settings) for name in self.settings.executors]
        self.executors = {e.name: e for e in executors}
        self._executors_lock = threading.Lock()
        #: A server starts runs in worker threads (made when first needed); the embedded mode inline.
        self._launcher = None if embedded else ThreadPoolExecutor(max_workers=4, thread_name_prefix="jobs-launch")
        self.default_executor = executors[0].name
        self.scheduler = Scheduler(self)
        self._maybe_cleanup()

    def close(self) -> None:
        """Release this process's connections; runs keep going (they are detached). Starts already
        claimed still finish (the process waits for them at exit), so no run is left half-started."""
        if self._launcher is not None:
            self._launcher.shutdown(wait=False)
        self.engine.dispose()

    # -- blobs ----------------------------------------------------------------------------------------
    def missing_blobs(self, shas) -> list[str]:
        return self.blobs.missing(shas)

    # -- submit -------------------------------------------------------------------------------------
    def submit(self, request: SubmitRequest, attempt: int = 1) -> Run:
        if request.idempotency_key:
            existing = self._by_key(request.idempotency_key)
            if existing:
                return existing
        executor = self._executor(request.executor)
        instance, notes = self._choose_instance(request.spec, executor)
        for name in _secret_refs(request.spec):
            if name not in self.secrets.names():
                raise SubmitError(f"`env.docker.password`: secret {name!r} does not exist",
                                  hint=f"create it with `jupyter jobs secrets set {name}`")
        self._check_features(request.spec, executor)
        missing = self.blobs.missing(request.bundle.shas())
        if missing:
            raise SubmitError(f"{len(missing)} input blobs were not uploaded (first: {missing[0][:12]})",
                              hint="upload them before submitting")
        run_id = new_run_id()
        run_dir = self.runs_dir / run_id
        run_dir.mkdir(parents=True)
        now = time.time()
        row = RunRow(
            id=run_id, name=request.spec.name, desc=request.spec.desc, kind=request.spec.kind,
            status="QUEUED", executor=executor.name, instance_type=instance.name, created_at=now,
            spec=request.spec.model_dump(mode="json"), bundle=request.bundle.model_dump(mode="json"),
            origin=request.origin.model_dump(mode="json"), handle={}, outputs=[], notes=notes,
            parent_id=request.parent_id, idempotency_key=request.idempotency_key,
            owner=request.origin.user, run_dir=str(run_dir), data_deleted=False, attempt=attempt,
            expires_at=now + self.settings.retention_days * 86400,
        )
        with self.Session() as session:
            session.add(row)
            try:
                session.commit()
            except IntegrityError:  # a concurrent submit with the same key won
                session.rollback()
                shutil.rmtree(run_dir, ignore_errors=True)
                existing = self._by_key(request.idempotency_key) if request.idempotency_key else None
                if existing:
                    return existing
                raise
        self.scheduler.enqueue(run_id)
        if self.embedded:
            self.scheduler.dispatch()
        elif self.wake:
            self.wake()
        return self.get(run_id)

    def launch(self, row: RunRow, executor: Executor, resources: dict) -> None:
        """Start a claimed run. A server starts each in a worker thread, so one slow start (an image
        pull) does not hold up the others; the embedded mode starts it before the command returns."""
        if self._launcher is None:
            self._launch_or_fail(row, executor, resources)
        else:
            self._launcher.submit(self._launch_or_fail, row, executor, resources)

    def _launch_or_fail(self, row: RunRow, executor: Executor, resources: dict) -> None:
        try:
            self._launch(row, executor, resources)
        except Exception as exc:  # a bug, not a refusal: the run says so rather than staying PREPARING
            log.exception("starting run %s failed", row.id)
            self._update(row.id, status="FAILED", error=f"could not start the run: {exc}", finished_at=time.time())

    def _launch(self, row: RunRow, executor: Executor, resources: dict) -> None:
        """Write a claimed run's plan and start its runner."""
        run_dir = Path(row.run_dir)
        request = SubmitRequest(spec=row.spec, bundle=row.bundle, origin=row.origin)
        plan = build_plan(row.id, request, run_dir, self.blobs, self.settings, executor)
        plan["notes"] = list(row.notes) + plan["notes"]
        # The executor says how a job sees its GPU slots (a container renumbers them from 0).
        plan["env"].update(executor.gpu_env(list(resources.get("gpus", []))))
        secrets = self.secrets.values()
        plan["secret_names"] = sorted(secrets)
        # Only a runner on this machine can start the host's queue kick (not one in a container).
        if self.embedded and executor.shares_host:
            plan["on_exit"] = {"queue_dir": str(self.scheduler.queue_dir), "argv": self._kick_argv()}
        layout.write_json(run_dir / layout.PLAN, plan)
        # What the executor needs beyond the plan: reserved resources, the image and its registry
        # login (the password resolved here from the secrets, passed in memory, never written).
        docker = request.spec.env.docker
        launch = Launch(run_id=row.id, instance=row.instance_type, resources=dict(resources),
                        image=docker.image if docker else None,
                        registry_auth={"username": docker.username or "",
                                       "password": secrets.get(docker.password_secret, "")}
                        if docker and docker.password_secret else None)
        try:
            handle = executor.start(run_dir, secrets, launch)
        except JobsError as exc:
            self._update(row.id, status="FAILED", error=str(exc), finished_at=time.time(), claimed_by=None)
            return
        self._update(row.id, handle=handle, claimed_by=None)
        row.handle = handle
        if self.embedded and not executor.shares_host:
            # A runner in a container cannot start the host's queue kick: a host process waits for it.
            subprocess.Popen([*self._kick_argv(), "--after", row.id], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def _kick_argv(self) -> list[str]:
        """`python -m jupyter_jobs.service.kick` with this service's settings (embedded mode only)."""
        return [sys.executable, "-m", "jupyter_jobs.service.kick",
                json.dumps(self.settings.trait_values(config=True))]

    def _executor(self, name: str | None) -> Executor:
        name = name or self.default_executor
        with self._executors_lock:  # the server calls this from several threads
            if name not in self.executors:
                if name not in KNOWN:
                    raise SubmitError(f"unknown executor {name!r}",
                                      hint=f"executors here: {', '.join(self.executors)}")
                self.executors[name] = make_executor(name, self.settings)
            return self.executors[name]

    def _known_executor(self, name: str) -> Executor | None:
        """The executor a stored run names, created on demand; None if this process cannot reach it."""
        try:
            return self._executor(name)
        except JobsError:
            return None

    def _choose_instance(self, spec: JobSpec, executor: Executor) -> tuple[InstanceType, list[str]]:
        """The first of the spec's instance types this executor serves (with notes), else refuse."""
        reasons = {}
        for name in spec.instance_types:
            instance = self.catalogue.get(name, key="cloud-instance-type")
            reason = executor.refusal(instance)
            if reason is None:
                skipped = [f"{n} skipped: {r}" for n, r in reasons.items()]
                return instance, skipped + executor.notes(instance)
            reasons[name] = reason
        servable = [t for t in self.catalogue if executor.refusal(t) is None]
        raise refuse(spec.instance_types, reasons, servable)

    def _check_features(self, spec: JobSpec, executor: Executor) -> None:
        def need(feature: str, what: str, key: str) -> None:
            if feature not in executor.features:
                raise SubmitError(f"`{key}`: {what} needs an executor that supports it; "
                                  f"{executor.name!r} does not",
                                  hint=f"executors here: {', '.join(self.executors)}")

        if spec.env.docker:
            need("docker", f"the image {spec.env.docker.image!r}", "env.docker")
        if spec.spark:
            need("spark", "a Spark connector", "spark")
        for key, refs, table in (("datasets", spec.datasets, self.settings.datasets),
                                 ("s3-mounts", spec.s3_mounts, self.settings.s3_mounts)):
            for ref in refs:
                if ref.id not in table:
                    raise SubmitError(f"`{key}`: {ref.id!r} is not available here",
                                      hint=f"an operator maps it to a folder with "
                                           f"c.JobsSettings.{key.replace('-', '_')}")

    # -- reading ------------------------------------------------------------------------------------
    def get(self, run_id: str) -> Run:
        return self._to_run(self._refresh(self._row(run_id)))

    def list(self, status: list[str] | None = None, query: str | None = None,
             limit: int = 100, offset: int = 0) -> list[Run]:
        if self.embedded:  # a server's own loop dispatches
            self.scheduler.dispatch()
        with self.Session() as session:
            stmt = select(RunRow).order_by(RunRow.created_at.desc(), RunRow.id.desc())
            if status:
                stmt = stmt.where(RunRow.status.in_(status))
            if query:
                like = f"%{query}%"
                stmt = stmt.where(or_(RunRow.name.ilike(like), RunRow.id.ilike(like),
                                      RunRow.desc.ilike(like)))
            rows = session.scalars(stmt.limit(limit).offset(offset)).all()
        positions: dict[str, dict[str, int]] = {}  # one queue query per executor, not per queued run
        return [self._to_run(self._refresh(row), positions) for row in rows]

    def resolve_id(self, prefix: str) -> str:
        """Full id from a unique prefix (like git), so users can type the first few characters."""
        prefix = prefix.strip().lower()
        if not re.fullmatch(r"[0-9a-z]{1,32}", prefix):
            raise NotFound(f"{prefix!r} is not a job id", hint="see `jupyter jobs list`")
        with self.Session() as session:
            ids = session.scalars(select(RunRow.id).where(RunRow.id.startswith(prefix)).limit(3)).all()
        if not ids:
            raise NotFound(f"no job with id {prefix!r}", hint="see `jupyter jobs list`")
        if len(ids) > 1 and prefix not in ids:
            raise NotFound(f"id {prefix!r} matches several jobs ({', '.join(ids)}...)",
                           hint="type more characters")
        return prefix if prefix in ids else ids[0]

    def events(self, run_id: str, offset: int = 0) -> tuple[list[dict], int]:
        return RunDir(self._row(run_id).run_dir).read_events(offset)

    def follow(self, run_id: str, offset: int = 0, poll: float = 0.05) -> Iterator[dict]:
        """Events as the runner writes them, until the run has ended and all were read."""
        row = self._row(run_id)
        rundir = RunDir(row.run_dir)
        delay = 0.005
        while True:
            events, offset = rundir.read_events(offset)
            yield from events
            if any(e["type"] == "result" for e in events):
                return
            if events:
                delay = 0.005
                continue
            row = self._refresh(row)
            if row.status in layout.FINAL_STATUSES:
                events, offset = rundir.read_events(offset)
                yield from events
                if not any(e["type"] == "result" for e in events):
                    yield {"type": "result", "t": time.time(), "status": row.status,
                           "exit_code": row.exit_code, "error": row.error}
                return
            time.sleep(delay)
            delay = min(delay * 2, poll)

    def logs(self, run_id: str, stream: str) -> str:
        return RunDir(self._row(run_id).run_dir).log_text(stream)

    def outputs_dir(self, run_id: str) -> Path:
        row = self._refresh(self._row(run_id))
        if row.data_deleted:
            raise NotFound(f"job {run_id}'s data expired and was deleted")
        return Path(row.run_dir) / layout.OUTPUTS

    def run_dir(self, run_id: str) -> Path:
        return Path(self._row(run_id).run_dir)

    # -- changing -------------------------------------------------------------------------------------
    def cancel(self, run_id: str, graceful: bool = False, reason: str | None = None) -> Run:
        row = self._refresh(self._row(run_id))
        if row.status in layout.FINAL_STATUSES:
            return self._to_run(row)
        run_dir = Path(row.run_dir)
        layout.write_json(run_dir / layout.CANCEL, {"graceful": graceful, "reason": reason,
                                                    "requested_at": time.time()})
        executor = self._known_executor(row.executor)
        if executor is None or not executor.signal_cancel(row.handle or {}, run_dir):
            if row.status == "QUEUED":
                self._update(row.id, status="CANCELLED", finished_at=time.time(), error=reason or "cancelled")
        return self.get(run_id)

    def fork(self, run_id: str, request: ForkRequest, executor: str | None = None) -> Run:
        parent = self._row(run_id)
        spec = JobSpec.model_validate(parent.spec)
        bundle = Bundle.model_validate(parent.bundle)
        unknown = set(request.args) - set(spec.args)
        if unknown:
            raise SubmitError(f"--arg {sorted(unknown)[0]}: the job has no such argument",
                              hint=f"its args: {', '.join(spec.args) or 'none'}")
        spec.args.update(request.args)
        spec.env.vars.update(request.env_vars)
        by_var = {ref.var: ref for ref in spec.inputs + spec.outputs if ref.var}
        for var in list(request.inputs) + list(request.outputs):
            if var not in by_var:
                raise SubmitError(f"--var {var}: the job has no input or output variable {var}",
                                  hint=f"its variables: {', '.join(by_var) or 'none'}")
        for var, new_input in request.inputs.items():
            ref = by_var[var]
            if ref not in spec.inputs:
                raise SubmitError(f"--var {var} names an output; give it a path with --var {var}=PATH")
            index = next(i for i, b in enumerate(bundle.inputs) if b.ref == ref.path)
            ref.path = new_input.ref
            bundle.inputs[index] = new_input
        for var, path in request.outputs.items():
            by_var[var].path = path
        if request.parameters:
            from ..notebook.rerun import with_parameters

            bundle = with_parameters(bundle, self.blobs, request.parameters)
        if request.instance_type:
            spec.instance_types = [request.instance_type]
        spec.name = request.name or spec.name
        spec.desc = request.desc or spec.desc
        origin = parent.origin
        return self.submit(SubmitRequest(spec=spec, bundle=bundle, origin=origin,
                                         executor=executor or parent.executor, parent_id=parent.id,
                                         idempotency_key=request.idempotency_key))

    def set_ttl(self, run_id: str, days: float | None) -> Run:
        row = self._row(run_id)
        expires = None if days is None else row.created_at + days * 86400
        self._update(row.id, expires_at=expires)
        return self.get(run_id)

    def delete(self, run_id: str) -> None:
        row = self._refresh(self._row(run_id))
        if row.status not in layout.FINAL_STATUSES:
            raise Conflict(f"job {run_id} is {row.status}", hint="cancel it first")
        shutil.rmtree(row.run_dir, ignore_errors=True)
        with self.Session() as session:
            session.delete(session.get(RunRow, row.id))
            session.commit()

    def cleanup(self, now: float | None = None) -> dict:
        """Delete the data of runs past their TTL, then blobs no kept run needs."""
        now = now or time.time()
        with self.Session() as session:
            expired = session.scalars(select(RunRow).where(
                RunRow.expires_at.is_not(None), RunRow.expires_at < now,
                RunRow.data_deleted.is_(False), RunRow.status.in_(layout.FINAL_STATUSES))).all()
            for row in expired:
                shutil.rmtree(row.run_dir, ignore_errors=True)
                row.data_deleted = True
            session.commit()
            kept = session.scalars(select(RunRow.bundle).where(RunRow.data_deleted.is_(False))).all()
        referenced = {f["sha256"] for b in kept for i in b.get("inputs", []) + [b.get("code") or {"files": []}]
                      for f in i["files"] if f.get("sha256")}
        freed = self.blobs.delete_unreferenced(referenced)
        (self.data_dir / ".last-cleanup").touch()
        return {"runs": len(expired), "blob_bytes": freed}

    def _maybe_cleanup(self) -> None:
        marker = self.data_dir / ".last-cleanup"
        try:
            if time.time() - marker.stat().st_mtime < _CLEANUP_EVERY:
                return
        except FileNotFoundError:
            marker.touch()
            return
        self.cleanup()

    # -- instance types -------------------------------------------------------------------------------
    def instance_types(self, executor: str | None = None) -> list[tuple[InstanceType, str | None]]:
        ex = self._executor(executor)
        return [(t, ex.refusal(t)) for t in self.catalogue]

    # -- index upkeep -------------------------------------------------------------------------------------
    def _row(self, run_id: str) -> RunRow:
        with self.Session() as session:
            row = session.get(RunRow, run_id)
        if row is None:
            row_id = self.resolve_id(run_id)
            with self.Session() as session:
                row = session.get(RunRow, row_id)
        return row

    def _by_key(self, key: str) -> Run | None:
        with self.Session() as session:
            row = session.scalars(select(RunRow).where(RunRow.idempotency_key == key)).first()
        return self._to_run(self._refresh(row)) if row else None

    def _refresh(self, row: RunRow) -> RunRow:
        """Bring a live run's row up to what its run dir says; a run with no trace left is LOST."""
        if row.status in layout.FINAL_STATUSES or row.data_deleted:
            return row
        if row.status == "PREPARING" and not row.handle and row.claimed_by and is_gone(row.claimed_by):
            return self._undo_claim(row)
        rundir = RunDir(row.run_dir)
        result = rundir.result()
        changes: dict = {}
        if result is None:
            state = rundir.latest()
            executor = self._known_executor(row.executor)
            alive = executor is not None and row.handle and executor.is_alive(row.handle, Path(row.run_dir))
            if not alive and row.handle:
                result = rundir.result()  # it may have finished between the two looks
                if result is None:
                    changes = {"status": "LOST", "finished_at": time.time(),
                               "error": "the runner vanished without a result"}
            if not changes:
                changes = {k: v for k, v in state.items() if getattr(row, k) != v}
        if result is not None:
            state = rundir.latest()
            changes = {"status": result["status"], "exit_code": result.get("exit_code"),
                       "error": result.get("error"), "finished_at": result.get("finished_at"),
                       "outputs": result.get("outputs", []),
                       "started_at": state.get("started_at", row.started_at),
                       "progress": state.get("progress", row.progress),
                       "progress_message": state.get("progress_message", row.progress_message)}
        if changes:
            self._update(row.id, **changes)
            for key, value in changes.items():
                setattr(row, key, value)
            if row.status == "FAILED":
                self._retry(row)
        return row

    def _undo_claim(self, row: RunRow) -> RunRow:
        """The process that claimed this run died before it recorded a started runner (killed during a
        long image pull, say). Queue the run again, unless a runner left its pid file: then it may be
        running unrecorded, and a run is never started twice, so it is LOST."""
        if (Path(row.run_dir) / layout.PID).exists():
            changes = {"status": "LOST", "finished_at": time.time(), "claimed_by": None,
                       "error": "the process starting this run ended before it recorded the runner"}
        else:
            changes = {"status": "QUEUED", "resources": None, "claimed_by": None,
                       "notes": [*row.notes, "its start was cut short (the process starting it ended); "
                                             "queued again"]}
        with self.Session() as session:
            undone = session.execute(update(RunRow).where(RunRow.id == row.id, RunRow.status == "PREPARING")
                                     .values(**changes)).rowcount
            session.commit()
        if undone and changes["status"] == "QUEUED":
            self.scheduler.enqueue(row.id)
        return self._row(row.id)

    def _retry(self, row: RunRow) -> None:
        """Start a failed run again while its spec allows; the key makes that happen once per failure."""
        spec = JobSpec.model_validate(row.spec)
        if row.attempt > spec.retries:
            return
        request = SubmitRequest(spec=spec, bundle=row.bundle, origin=row.origin, executor=row.executor,
                                parent_id=row.id, idempotency_key=f"retry:{row.id}")
        try:
            self.submit(request, attempt=row.attempt + 1)
        except JobsError as exc:
            self._update(row.id, error=f"{row.error}; retry not started: {exc}")

    def reconcile(self) -> dict[str, int]:
        """At start-up: settle every unfinished run from its run dir (re-attach, finish, or LOST)."""
        with self.Session() as session:
            rows = session.scalars(select(RunRow).where(RunRow.status.in_(("PREPARING", "RUNNING")))).all()
        counts: dict[str, int] = {}
        for row in rows:
            status = self._refresh(row).status
            counts[status] = counts.get(status, 0) + 1
        self.scheduler.dispatch()
        return counts

    def _update(self, run_id: str, **values) -> None:
        with self.Session() as session:
            row = session.get(RunRow, run_id)
            for key, value in values.items():
                setattr(row, key, value)
            session.commit()

    def _to_run(self, row: RunRow, positions: dict[str, dict[str, int]] | None = None) -> Run:
        """`positions` caches each executor's queue across the rows of one listing."""
        run = Run.model_validate({c: getattr(row, c) for c in Run.model_fields if hasattr(row, c)})
        if run.status == "QUEUED":
            positions = {} if positions is None else positions
            if row.executor not in positions:
                positions[row.executor] = self.scheduler.positions(row.executor)
            run.queue_position = positions[row.executor].get(row.id)
        return run



def _secret_refs(spec: JobSpec) -> list[str]:
    docker = spec.env.docker
    return [docker.password_secret] if docker and docker.password_secret else []
