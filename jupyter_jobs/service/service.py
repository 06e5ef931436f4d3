"""JobsService: the service's public API, one facade over small parts with one job each.

The same class serves the CLI and magics in-process (the embedded default) and the Jupyter server
extension. It holds no state of its own that a restart could lose: the database indexes runs, and
each run's directory says how it is really doing.

Parts: `admission` (checking and recording a submit), `launch` (plan, executor start, cancel),
`reconcile` + `transitions` (bringing rows up to date), `reads`, `retention`, `scheduler` (the
queue), all on `index` (the rows; status changes are compare-and-set). The scheduler, the kick,
the CLI, the clients and the server use only the public methods here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from ..errors import JobsError
from ..executors import Executor
from ..instances import Catalogue, InstanceType
from ..runner.protocol import FINAL_STATUSES, Status
from ..settings import JobsSettings
from .admission import Admission, new_run_id, retry_request
from .blobs import BlobStore
from .db import RunRow
from .firing import Firing
from .forking import fork_request
from .index import RunIndex, open_index
from .launch import Launcher
from .reads import Reads
from .reconcile import Reconciler
from .registry import ExecutorRegistry
from .retention import Retention
from .scheduler import ACTIVE, Scheduler
from .schedules import Schedules, ScheduleStore
from .schemas import CronPreview, ForkRequest, Run, Schedule, ScheduleRequest, SubmitRequest
from .secrets import SecretStore
from .transitions import Transition

__all__ = ["JobsService", "new_run_id"]


class JobsService:
    def __init__(self, settings: JobsSettings | None = None, executors: list[Executor] | None = None,
                 embedded: bool = True, index: RunIndex | None = None):
        """`index`: the settings' run index when this process has it open already (`open_index`)."""
        self.settings = settings or JobsSettings()
        #: In-process (CLI, magics): a finishing runner starts what waits in the queue, since no
        #: long-lived process does. A server dispatches itself.
        self.embedded = embedded
        #: A server sets this to be told (from any thread) that a run was queued, to dispatch soon.
        self.wake: Callable[[], None] | None = None
        self.data_dir = Path(self.settings.data_dir)
        self.runs_dir = self.data_dir / "runs"
        self.index = index or open_index(self.data_dir, self.settings.db_url)
        self.engine = self.index.engine
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.blobs = BlobStore(self.data_dir / "blobs")
        self.secrets = SecretStore(self.data_dir / "secrets.json")
        self.catalogue = Catalogue.load(self.settings.instance_types_file or None)
        self.registry = ExecutorRegistry(self.settings, executors, self.secrets.values)
        #: Name -> executor (configured ones, and those built since for a submit or a stored run).
        self.executors = self.registry.executors
        self.default_executor = self.registry.default
        self.scheduler = Scheduler(self)
        self.admission = Admission(self.settings, self.index, self.registry, self.catalogue, self.blobs,
                                   self.secrets, self.runs_dir)
        self.launcher = Launcher(self.settings, self.index, self.blobs, self.secrets, self.scheduler.queue_dir,
                                 embedded)
        self.reconciler = Reconciler(self.index, self.registry, self.runs_dir)
        self.reads = Reads(self.index, self._settle)
        self.retention = Retention(self.index, self.blobs, self.data_dir)
        store = ScheduleStore(self.engine)
        self.schedules = Schedules(store, self.admission.check, lambda row: self.reads.to_run(self._settle(row)))
        self.firing = Firing(store, self.settings.schedule_grace_seconds, self._submit, self._settle)
        self.retention.maybe_cleanup()

    def close(self) -> None:
        """Release this process's connections; runs keep going (they are detached). Starts already
        claimed still finish (the process waits for them at exit), so no run is left half-started."""
        self.launcher.close()
        self.registry.close()
        self.engine.dispose()

    # -- submitting -----------------------------------------------------------------------------------
    def missing_blobs(self, shas) -> list[str]:
        return self.blobs.missing(shas)

    def submit(self, request: SubmitRequest) -> Run:
        return self._submit(request)

    def _submit(self, request: SubmitRequest, schedule_id: str | None = None, notes: list[str] | None = None) -> Run:
        executor = self.registry.find(request.executor)
        if executor is not None:  # else admission says why
            executor.expect_launch()
        row = self.admission.admit(request, schedule_id=schedule_id, notes=notes)
        if row.status == Status.QUEUED.value:
            self.scheduler.enqueue(row.id)
            self._queued()
        return self.reads.get(row.id)

    def fork(self, run_id: str, request: ForkRequest, executor: str | None = None) -> Run:
        submit, notes = fork_request(self.index.row(run_id), request, self.blobs, executor)
        return self._submit(submit, notes=notes)

    def find_by_key(self, key: str) -> Run | None:
        """The run submitted with idempotency key `key`, if any."""
        row = self.index.by_key(key)
        return self.reads.to_run(self._settle(row)) if row else None

    def submission(self, run_id: str) -> SubmitRequest:
        """What was submitted for a run: spec, bundle, origin, executor."""
        row = self.index.row(run_id)
        return SubmitRequest(spec=row.spec, bundle=row.bundle, origin=row.origin, executor=row.executor,
                             parent_id=row.parent_id)

    def instance_types(self, executor: str | None = None) -> list[tuple[InstanceType, str | None]]:
        ex = self.registry.get(executor)
        return [(t, ex.refusal(t)) for t in self.catalogue]

    # -- schedules ------------------------------------------------------------------------------------------
    def create_schedule(self, request: ScheduleRequest) -> Schedule:
        """Save a job to fire on a cron; its job is checked now as a submit would be."""
        return self.schedules.create(request)

    def list_schedules(self) -> list[Schedule]:
        return self.schedules.list()

    def get_schedule(self, schedule_id: str) -> Schedule:
        return self.schedules.get(schedule_id)

    def resolve_schedule_id(self, prefix: str) -> str:
        return self.schedules.store.resolve_id(prefix)

    def pause_schedule(self, schedule_id: str) -> Schedule:
        return self.schedules.pause(schedule_id)

    def resume_schedule(self, schedule_id: str) -> Schedule:
        return self.schedules.resume(schedule_id)

    def delete_schedule(self, schedule_id: str) -> None:
        """The schedule goes; the runs it fired stay (with its id)."""
        self.schedules.delete(schedule_id)

    def schedule_runs(self, schedule_id: str) -> list[Run]:
        return self.schedules.runs(schedule_id)

    def cron_preview(self, cron: str, timezone: str = "UTC") -> CronPreview:
        return self.schedules.preview(cron, timezone)

    def fire_due(self, now: datetime) -> list[str]:
        """Fire the schedules due at `now` (a server's loop calls this); the ids of the runs started."""
        return self.firing.fire_due(now)

    def scheduled_failures(self, since: float) -> list[tuple[Run, str]]:
        """Runs fired by a schedule that failed or were lost after `since`, with the schedule's name."""
        return [(self.reads.to_run(row), name) for row, name in self.firing.failed_since(since)]

    # -- the queue ------------------------------------------------------------------------------------
    def dispatch(self) -> list[str]:
        """Start every queued run that fits now; the ids started."""
        return self.scheduler.dispatch()

    def launch(self, row: RunRow, executor: Executor, resources: dict) -> None:
        """Start a run the scheduler claimed (in a worker thread in a server)."""
        self.launcher.launch(row, executor, resources)

    def settle_active(self) -> None:
        """Settle every run this service serves that holds capacity; what follows (a retry) is admitted
        but not dispatched: the scheduler calls this just before it dispatches."""
        applied = [self.reconciler.settle(row) for row in self.index.with_status(ACTIVE)]
        self._follow_up([(row, t) for row, t in applied if t is not None], dispatch=False)

    def reconcile(self) -> dict[str, int]:
        """At start-up: settle every unfinished run from its run dir (re-attach, finish, or LOST)."""
        counts: dict[str, int] = {}
        for row in self.index.with_status(ACTIVE):
            status = self._settle(row, dispatch=False).status
            counts[status] = counts.get(status, 0) + 1
        self.dispatch()
        return counts

    # -- reading --------------------------------------------------------------------------------------
    def get(self, run_id: str) -> Run:
        return self.reads.get(run_id)

    def list(self, status: list[str] | None = None, query: str | None = None,
             limit: int = 100, offset: int = 0) -> list[Run]:
        if self.embedded:  # a server's own loop dispatches
            self.dispatch()
        return self.reads.list(status, query, limit, offset)

    def resolve_id(self, prefix: str) -> str:
        return self.index.resolve_id(prefix)

    def events(self, run_id: str, offset: int = 0) -> tuple[list[dict], int]:
        return self.reads.events(run_id, offset)

    def follow(self, run_id: str, offset: int = 0, poll: float = 0.05) -> Iterator[dict]:
        return self.reads.follow(run_id, offset, poll)

    def logs(self, run_id: str, stream: str) -> str:
        return self.reads.logs(run_id, stream)

    def outputs_dir(self, run_id: str) -> Path:
        return self.reads.outputs_dir(run_id)

    def run_dir(self, run_id: str) -> Path:
        return self.reads.run_dir(run_id)

    def serves(self, row: RunRow) -> bool:
        return self.reconciler.serves(row)

    # -- changing -------------------------------------------------------------------------------------
    def cancel(self, run_id: str, graceful: bool = False, reason: str | None = None) -> Run:
        row = self._settle(self.index.row(run_id))
        if row.status not in FINAL_STATUSES:
            self.launcher.cancel(row, self.registry.find(row.executor), graceful, reason)
        return self.reads.get(row.id)

    def set_ttl(self, run_id: str, days: float | None) -> Run:
        row = self.index.row(run_id)
        self.retention.set_ttl(row, days)
        return self.reads.get(row.id)

    def delete(self, run_id: str) -> None:
        self.retention.delete(self._settle(self.index.row(run_id)))

    def cleanup(self, now: float | None = None) -> dict:
        return self.retention.cleanup(now)

    # -- consequences: run after a transition is applied, never under a lock ----------------------------
    def _settle(self, row: RunRow, dispatch: bool = True) -> RunRow:
        row, transition = self.reconciler.settle(row)
        if transition is not None:
            self._follow_up([(row, transition)], dispatch)
        return row

    def _follow_up(self, applied: list[tuple[RunRow, Transition]], dispatch: bool) -> None:
        """What follows from applied transitions: a failed run with retries left is submitted again
        (its key makes that happen once), a run whose claim was undone goes back in the queue."""
        queued = False
        for row, transition in applied:
            if transition.retryable:
                queued |= self._retry(row)
            elif transition.to_status == Status.QUEUED.value:
                self.scheduler.enqueue(row.id)
                queued = True
        if queued and dispatch:
            self._queued()

    def _retry(self, row: RunRow) -> bool:
        request = retry_request(row)
        if request is None:
            return False
        try:
            retry = self.admission.admit(request, attempt=row.attempt + 1, schedule_id=row.schedule_id)
        except JobsError as exc:
            self.index.apply(Transition(row.id, Status.FAILED.value,
                                        {"error": f"{row.error}; retry not started: {exc}"}))
            return False
        self.scheduler.enqueue(retry.id)
        return True

    def _queued(self) -> None:
        """A run waits: the embedded mode dispatches now, a server's loop is woken."""
        if self.embedded:
            self.dispatch()
        elif self.wake:
            self.wake()
