"""Bringing a live run's row up to what its run dir, its executor and its claimer say.

`observe` looks (files, the executor, the claiming process); `transitions.next_transition` decides,
without I/O; `RunIndex.apply` writes, only if the row is still as it was seen. What follows from a
change (retries, kicking the queue) is for the caller to run, after any lock is released.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

from ..procs import is_gone
from ..runner import protocol
from ..runner.protocol import Status
from ..spec.models import stored_spec
from .db import RunRow
from .index import RunIndex, is_settled
from .outputs import output_manifest
from .registry import ExecutorRegistry
from .rundir import RunDir
from .transitions import Observation, Transition, next_transition


class Reconciler:
    def __init__(self, index: RunIndex, registry: ExecutorRegistry, runs_dir: Path):
        self.index = index
        self.registry = registry
        self.runs_dir = runs_dir

    def serves(self, row: RunRow) -> bool:
        """Servers sharing one index each serve (start, settle) the runs whose directories they hold;
        another server's run is shown as that server last indexed it."""
        return Path(row.run_dir).parent == self.runs_dir

    def settle(self, row: RunRow) -> tuple[RunRow, Transition | None]:
        """The row brought up to date, and the transition this call applied (None when nothing changed
        or another process changed the row first; then the row is read again)."""
        if is_settled(row) or not self.serves(row):
            return row, None
        transition = next_transition(row, self.observe(row), time.time())
        if transition is None:
            return row, None
        if not self.index.apply(transition):
            return self.index.find(row.id) or row, None
        for key, value in transition.changes.items():
            setattr(row, key, value)
        return row, transition

    def observe(self, row: RunRow) -> Observation:
        rundir = RunDir(row.run_dir)
        result = rundir.result()
        liveness = None
        if result is None and row.handle:
            executor = self.registry.find(row.executor)
            if executor is not None:
                liveness = executor.liveness(row.handle, Path(row.run_dir))
                result = rundir.result()  # it may have finished between the two looks
        claim = row.claimed_by if row.status == Status.PREPARING.value and not row.handle else None
        elsewhere = bool(claim) and claim.get("host") != socket.gethostname()
        return Observation(
            result=result, state=rundir.latest(), liveness=liveness,
            # a claimer on this host is judged by its pid, one elsewhere by its lease (`next_transition`)
            claimer_gone=bool(claim) and is_gone(claim), claimer_elsewhere=elsewhere,
            # the host's own walk of outputs/, never a manifest the job could have written
            outputs=[e.model_dump(mode="json") for e in output_manifest(Path(row.run_dir), stored_spec(row.spec))]
            if result is not None else [],
            runner_trace=bool(claim) and (Path(row.run_dir) / protocol.PID).exists())
