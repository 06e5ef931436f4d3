"""What reconciling a run decides, as values, with no I/O: from a row and what was observed about its
run (run dir, executor, claimer), the one change to make, or None.

A transition names the status it was computed from (and, for a claim, the claim's token); the index
applies it only if the row still has them (`RunIndex.apply`), so a reader working from a stale row
can never overwrite a newer state. What follows from a change (a retry, a queue kick) is not done
here: the service runs it after the change is applied and every lock is released.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..executors.base import Liveness
from ..runner.protocol import FINAL_STATUSES, Status
from .db import RunRow

_STATE_FIELDS = ("status", "started_at", "progress", "progress_message")


@dataclass(frozen=True)
class Transition:
    run_id: str
    #: The status the row had when this was decided; applied only while it still has it (None: any).
    from_status: str | None
    #: Column values to set.
    changes: dict
    #: Applied only while the row holds this claim (`claimed_by["claim"]`), when given.
    claim: str | None = None
    #: Set by reconciliation when the run's own result failed it, so a retry may follow.
    retryable: bool = False

    @property
    def to_status(self) -> str | None:
        return self.changes.get("status", self.from_status)


@dataclass(frozen=True)
class Observation:
    """What was seen of a live run, gathered by `Reconciler.observe`."""

    #: result.json, checked (`RunDir.result`); None while the run has none.
    result: dict | None = None
    #: With a result: the host's own walk of outputs/ against the spec (never the job's word).
    outputs: list[dict] = field(default_factory=list)
    #: The latest status and progress in events.jsonl.
    state: dict = field(default_factory=dict)
    #: The executor's word on the stored handle; None when no handle is stored.
    liveness: Liveness | None = None
    #: The process holding the run's claim, on this host, has ended (looked at while no handle is stored).
    claimer_gone: bool = False
    #: The claim was made on another host: its process cannot be seen from here, only its lease.
    claimer_elsewhere: bool = False
    #: A runner left its pid file in the run dir.
    runner_trace: bool = False


def next_transition(row: RunRow, seen: Observation, now: float) -> Transition | None:
    """The change that brings `row` up to what `seen` says, or None when it says nothing new."""
    if row.status in FINAL_STATUSES:
        return None
    if seen.result is not None:
        result, state = seen.result, seen.state
        return Transition(row.id, row.status, {
            "status": result["status"], "exit_code": result.get("exit_code"), "error": result.get("error"),
            "finished_at": result.get("finished_at") or now, "outputs": seen.outputs,
            "started_at": state.get("started_at", row.started_at), "progress": state.get("progress", row.progress),
            "progress_message": state.get("progress_message", row.progress_message),
        }, retryable=result["status"] == Status.FAILED.value)
    claim = row.claimed_by or {}
    if row.status == Status.PREPARING.value and not row.handle and claim and (
            seen.claimer_gone or (seen.claimer_elsewhere and lease_expired(claim, now))):
        return _undo_claim(row, claim, seen, now)
    if seen.liveness is Liveness.GONE:
        return Transition(row.id, row.status, {"status": Status.LOST.value, "finished_at": now,
                                               "error": "the runner vanished without a result"})
    changes = {k: v for k, v in seen.state.items() if k in _STATE_FIELDS and getattr(row, k) != v}
    return Transition(row.id, row.status, changes) if changes else None


def lease_expired(claim: dict, now: float) -> bool:
    """The claim's lease ran out unrenewed (a claim written without one, by an older version, never does)."""
    lease = claim.get("lease_until")
    return lease is not None and lease < now


def _undo_claim(row: RunRow, claim: dict, seen: Observation, now: float) -> Transition:
    """The process that claimed the run ended before it stored a runner's handle. Before it marked the
    start as attempted (during an image pull, say), no runner can exist: queue the run again. After,
    one may be running unrecorded, and a run never starts twice: it is LOST. Either way only while
    the row still holds that very claim (a stale reader changes nothing)."""
    if claim.get("starting") or seen.runner_trace:
        return Transition(row.id, row.status, {
            "status": Status.LOST.value, "finished_at": now, "claimed_by": None,
            "error": "the process starting this run ended before it recorded the runner"}, claim=claim.get("claim"))
    return Transition(row.id, row.status, {
        "status": Status.QUEUED.value, "resources": None, "claimed_by": None,
        "notes": [*row.notes, "its start was cut short (the process starting it ended); queued again"],
    }, claim=claim.get("claim"))
