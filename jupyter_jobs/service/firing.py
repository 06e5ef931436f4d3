"""Firing schedules: every due tick is claimed by exactly one server, then submitted as a normal run.

The claim is a compare-and-set, `UPDATE schedules SET next_fire_at=<next> WHERE id=? AND
next_fire_at=<seen>`: of several servers sharing the index only one moves a schedule on from a tick, and
only that one submits (with the idempotency key `schedule:<id>:<tick>` as a second guard). A server that
dies between the claim and the submit loses that tick: a tick fires at most once, never twice.

A due tick older than `JobsSettings.schedule_grace_seconds` was missed (no server ran then). `missed=skip`
records every missed tick as skipped; `run-once` fires one run for the newest and records the others.
When the schedule's previous run still goes, `overlap=skip` records the tick as skipped, `queue` submits
anyway and the queue holds the run until capacity frees up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from ..errors import JobsError
from ..runner.protocol import FINAL_STATUSES
from .cron import ticks_after
from .db import RunRow, ScheduleRow
from .schedules import GOING, ScheduleStore, record_skipped
from .schemas import Run, SubmitRequest

log = logging.getLogger(__name__)

MISSED = "missed: no server was running"
STILL_GOING = "previous run still going"


class Firing:
    """`submit(request, schedule_id)` admits and queues a run as every submit is; `settle(row)` brings
    a run's row up to date (the overlap policy asks whether the previous run really still goes)."""

    def __init__(self, store: ScheduleStore, grace: float, submit: Callable[[SubmitRequest, str], Run],
                 settle: Callable[[RunRow], RunRow]):
        self.store = store
        self.grace = grace
        self.submit = submit
        self.settle = settle

    def fire_due(self, now: datetime) -> list[str]:
        """Fire every schedule whose tick is due at `now`; the ids of the runs started."""
        at = now.timestamp()
        fired = [self._fire(row, at) for row in self.store.due(at)]
        return [run_id for run_id in fired if run_id]

    def _fire(self, row: ScheduleRow, now: float) -> str | None:
        seen = row.next_fire_at
        due, ticks = [seen], ticks_after(row.cron, row.timezone, seen)
        upcoming = next(ticks)
        while upcoming <= now:
            due.append(upcoming)
            upcoming = next(ticks)
        skipped = [(tick, MISSED) for tick in due[:-1]]  # a newer tick came due: these were missed
        fire_at: float | None = due[-1]
        if fire_at < now - self.grace and row.missed == "skip":
            skipped.append((fire_at, MISSED))
            fire_at = None
        elif row.overlap == "skip" and self._still_going(row.id):
            skipped.append((fire_at, STILL_GOING))
            fire_at = None
        changes = record_skipped(row.skipped, row.skipped_count, skipped) if skipped else {}
        if not self.store.claim(row.id, seen, next_fire_at=upcoming, **changes):
            return None  # another server fired this tick (or it was paused or deleted meanwhile)
        if fire_at is None:
            return None
        return self._submit(row, fire_at, now, changes)

    def _submit(self, row: ScheduleRow, tick: float, now: float, claimed: dict) -> str | None:
        request = SubmitRequest.model_validate(row.job).model_copy(
            update={"idempotency_key": f"schedule:{row.id}:{int(tick)}"})
        try:
            run = self.submit(request, row.id)
        except JobsError as exc:  # e.g. its executor is gone from the configuration
            log.warning("schedule %s (%s): the run of its %s tick was not started: %s", row.name, row.id,
                        datetime.fromtimestamp(tick, ZoneInfo(row.timezone)).isoformat(timespec="minutes"), exc)
            state = {"skipped": row.skipped, "skipped_count": row.skipped_count, **claimed}
            self.store.set(row.id, **record_skipped(state["skipped"], state["skipped_count"],
                                                    [(tick, f"not started: {exc}")]))
            return None
        self.store.set(row.id, last_run_id=run.id, last_fired_at=now)
        return run.id

    def _still_going(self, schedule_id: str) -> bool:
        return any(self.settle(row).status not in FINAL_STATUSES for row in self.store.runs(schedule_id, GOING))

    def failed_since(self, since: float) -> list[tuple[RunRow, str]]:
        """Runs fired by a schedule that failed or were lost after `since`, with the schedule's name
        (its id once it is deleted)."""
        names = {row.id: row.name for row in self.store.rows()}
        return [(run, names.get(run.schedule_id, run.schedule_id)) for run in self.store.failed_since(since)]
