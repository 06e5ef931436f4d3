"""Schedules: a saved job and its cron timing, stored in the run index's `schedules` table.

Creating one checks its job as a submit is checked (executor, instance type, blobs uploaded), so a
schedule that could never start is refused at once, not at 3 AM. Pause, resume, delete and the runs a
schedule fired are here; firing its ticks is `firing.py`'s. A deleted schedule's runs stay, with
their `schedule_id`.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from pathlib import PurePath

from pydantic import ValidationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Engine

from ..errors import JobsError, NotFound
from ..runner.protocol import Status
from .cron import describe, next_times, ticks_after
from .db import RunRow, ScheduleRow, sessions
from .index import resolve_prefix
from .schemas import CronPreview, Run, Schedule, ScheduleRequest, ScheduleTiming, SkippedTick, timing_problem

PREFIX = "sch-"
_LIST = "see `jupyter jobs schedule list`"
#: Skipped ticks a schedule keeps (newest first); `skipped_count` counts them all.
SKIPPED_KEPT = 50
#: A run of a schedule in one of these still goes (the overlap policy looks at them).
GOING = (Status.QUEUED.value, Status.PREPARING.value, Status.RUNNING.value)


def new_schedule_id() -> str:
    return PREFIX + secrets.token_hex(5)


def first_tick(cron: str, zone: str, after: float) -> float:
    return next(ticks_after(cron, zone, after))


class InvalidTiming(JobsError):
    """A cron expression or time zone that cannot be used (names the field)."""

    status = 400

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


class ScheduleStore:
    """The rows of the `schedules` table; the tick claim is a compare-and-set on `next_fire_at`."""

    def __init__(self, engine: Engine):
        self.Session = sessions(engine)

    # -- reading ----------------------------------------------------------------------------------------
    def row(self, schedule_id: str) -> ScheduleRow:
        """The row of a full id or a unique prefix of one (with or without `sch-`)."""
        full = self.resolve_id(schedule_id)
        with self.Session() as session:
            row = session.get(ScheduleRow, full)
        if row is None:  # deleted meanwhile
            raise NotFound(f"no schedule with id {schedule_id!r}", hint=_LIST)
        return row

    def resolve_id(self, prefix: str) -> str:
        prefix = prefix.strip().lower()
        if not prefix.startswith(PREFIX):
            prefix = PREFIX + prefix
        if not re.fullmatch(PREFIX + r"[0-9a-f]{1,28}", prefix):
            raise NotFound(f"{prefix!r} is not a schedule id", hint=_LIST)
        return resolve_prefix(self.Session, ScheduleRow.id, prefix, "schedule", _LIST)

    def rows(self) -> list[ScheduleRow]:
        with self.Session() as session:
            return list(session.scalars(select(ScheduleRow).order_by(ScheduleRow.created_at, ScheduleRow.id)))

    def due(self, now: float) -> list[ScheduleRow]:
        with self.Session() as session:
            return list(session.scalars(select(ScheduleRow).where(
                ScheduleRow.paused.is_(False), ScheduleRow.next_fire_at <= now).order_by(ScheduleRow.next_fire_at)))

    def runs(self, schedule_id: str, statuses=None) -> list[RunRow]:
        """The runs a schedule fired, newest first (optionally only those in `statuses`)."""
        stmt = select(RunRow).where(RunRow.schedule_id == schedule_id)
        if statuses:
            stmt = stmt.where(RunRow.status.in_(list(statuses)))
        with self.Session() as session:
            return list(session.scalars(stmt.order_by(RunRow.created_at.desc(), RunRow.id.desc())))

    def run(self, run_id: str) -> RunRow | None:
        with self.Session() as session:
            return session.get(RunRow, run_id)

    def runs_by_id(self, run_ids: list[str]) -> dict[str, RunRow]:
        """The runs of these ids that still exist, in one query (a listing's last runs)."""
        if not run_ids:
            return {}
        with self.Session() as session:
            return {row.id: row for row in session.scalars(select(RunRow).where(RunRow.id.in_(run_ids)))}

    def run_counts(self, schedule_id: str | None = None) -> dict[str, int]:
        """Schedule id -> how many runs it fired (of one schedule, or of all)."""
        which = RunRow.schedule_id.is_not(None) if schedule_id is None else RunRow.schedule_id == schedule_id
        with self.Session() as session:
            return dict(session.execute(select(RunRow.schedule_id, func.count()).where(which)
                                        .group_by(RunRow.schedule_id)).all())

    def failed_since(self, since: float) -> list[RunRow]:
        """Runs fired by a schedule that failed or were lost after `since` (epoch seconds)."""
        with self.Session() as session:
            return list(session.scalars(select(RunRow).where(
                RunRow.schedule_id.is_not(None), RunRow.finished_at > since,
                RunRow.status.in_([Status.FAILED.value, Status.LOST.value])).order_by(RunRow.finished_at)))

    # -- changing ---------------------------------------------------------------------------------------
    def add(self, row: ScheduleRow) -> None:
        with self.Session() as session:
            session.add(row)
            session.commit()

    def claim(self, schedule_id: str, seen: float, **changes) -> bool:
        """Move a due schedule on from tick `seen`; False when another server did it first (or the
        schedule was paused or deleted meanwhile)."""
        with self.Session() as session:
            changed = session.execute(update(ScheduleRow).where(
                ScheduleRow.id == schedule_id, ScheduleRow.next_fire_at == seen,
                ScheduleRow.paused.is_(False)).values(**changes)).rowcount
            session.commit()
        return changed == 1

    def set(self, schedule_id: str, **changes) -> None:
        with self.Session() as session:
            session.execute(update(ScheduleRow).where(ScheduleRow.id == schedule_id).values(**changes))
            session.commit()

    def remove(self, schedule_id: str) -> None:
        with self.Session() as session:
            session.execute(delete(ScheduleRow).where(ScheduleRow.id == schedule_id))
            session.commit()


def record_skipped(kept: list, count: int, ticks: list[tuple[float, str]]) -> dict:
    """The columns that add `ticks` (oldest first, with their reasons) to a schedule's skipped ticks
    (`kept`, newest first, and `count` in all)."""
    newest = [{"at": at, "reason": reason} for at, reason in reversed(ticks[-SKIPPED_KEPT:])]
    return {"skipped": (newest + list(kept or []))[:SKIPPED_KEPT], "skipped_count": (count or 0) + len(ticks)}


class Schedules:
    """Creating, reading and changing schedules. `check(request)` is the admission's check of a
    submit (executor and instance type it would use); `to_run(row)` reads a run settled; `clock` says
    from when a new or resumed schedule's ticks count (tests set their own)."""

    def __init__(self, store: ScheduleStore, check: Callable, to_run: Callable[[RunRow], Run],
                 clock: Callable[[], float] = time.time):
        self.store = store
        self.check = check
        self.to_run = to_run
        self.clock = clock

    def create(self, request: ScheduleRequest) -> Schedule:
        job, timing = request.job, request.timing
        executor, instance, _ = self.check(job)
        now = self.clock()
        job = job.model_copy(update={"executor": executor.name, "idempotency_key": None, "parent_id": None})
        source = job.origin.source
        row = ScheduleRow(
            id=new_schedule_id(), name=timing.name or job.spec.name or (PurePath(source).name if source else "")
            or "schedule", source=source, kind=job.spec.kind, cron=timing.cron, timezone=timing.timezone,
            missed=timing.missed, overlap=timing.overlap, paused=False, created_at=now,
            next_fire_at=first_tick(timing.cron, timing.timezone, now), executor=executor.name,
            instance_type=instance.name, parameters=dict(job.origin.parameters), job=job.model_dump(mode="json"),
            owner=job.origin.user, skipped=[], skipped_count=0)
        self.store.add(row)
        return self.get(row.id)

    def preview(self, cron: str, zone: str) -> CronPreview:
        """The words and next 3 times of a cron expression; one error naming the bad argument."""
        try:
            timing = ScheduleTiming(cron=cron, timezone=zone)
        except ValidationError as exc:
            field, message = timing_problem(exc)
            raise InvalidTiming(f"{field}: {message}", field) from None
        return CronPreview(description=describe(timing.cron),
                           next_times=next_times(timing.cron, timing.timezone, self.clock()))

    def get(self, schedule_id: str) -> Schedule:
        row = self.store.row(schedule_id)
        last = self.store.run(row.last_run_id) if row.last_run_id else None
        return self.to_schedule(row, self.store.run_counts(row.id).get(row.id, 0), last)

    def list(self) -> list[Schedule]:
        """Three queries however many schedules there are (the Lab polls this while the view is shown)."""
        counts = self.store.run_counts()
        rows = self.store.rows()
        last = self.store.runs_by_id([row.last_run_id for row in rows if row.last_run_id])
        return [self.to_schedule(row, counts.get(row.id, 0), last.get(row.last_run_id)) for row in rows]

    def runs(self, schedule_id: str) -> list[Run]:
        """Newest first. The runs of a deleted schedule are still found by its full id."""
        try:
            schedule_id = self.store.resolve_id(schedule_id)
        except NotFound:
            if not self.store.runs(schedule_id):
                raise
        return [self.to_run(row) for row in self.store.runs(schedule_id)]

    def pause(self, schedule_id: str) -> Schedule:
        row = self.store.row(schedule_id)
        self.store.set(row.id, paused=True, next_fire_at=None)
        return self.get(row.id)

    def resume(self, schedule_id: str) -> Schedule:
        """From now on: the ticks that passed while it was paused are not missed, they were not wanted."""
        row = self.store.row(schedule_id)
        if row.paused:
            self.store.set(row.id, paused=False, next_fire_at=first_tick(row.cron, row.timezone, self.clock()))
        return self.get(row.id)

    def delete(self, schedule_id: str) -> None:
        self.store.remove(self.store.row(schedule_id).id)

    def to_schedule(self, row: ScheduleRow, run_count: int, last: RunRow | None) -> Schedule:
        """`last`: the row of its last run (None once deleted)."""
        upcoming = [] if row.paused or row.next_fire_at is None else (
            [row.next_fire_at] + next_times(row.cron, row.timezone, row.next_fire_at, 2))
        return Schedule(
            id=row.id, name=row.name, source=row.source, kind=row.kind, cron=row.cron, timezone=row.timezone,
            missed=row.missed, overlap=row.overlap, description=describe(row.cron), paused=row.paused,
            created_at=row.created_at, next_fire_at=None if row.paused else row.next_fire_at,
            next_times=upcoming, executor=row.executor, instance_type=row.instance_type,
            parameters=row.parameters or {}, last_run_id=row.last_run_id,
            last_status=self.to_run(last).status if last else None, last_fired_at=row.last_fired_at,
            run_count=run_count, skipped=[SkippedTick.model_validate(s) for s in row.skipped or []],
            skipped_count=row.skipped_count or 0)

