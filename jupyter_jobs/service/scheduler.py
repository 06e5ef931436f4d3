"""The queue: FIFO per executor, started when the executor's CPUs, memory and GPU slots allow.

Starting a run is a claim, a conditional UPDATE (QUEUED -> PREPARING), so two processes or servers
sharing one database never start the same run twice; the index's dispatch lock (`locks.py`) keeps
dispatchers, on one host or several, from over-committing the same capacity.
"""

from __future__ import annotations

import os
from collections import Counter

from sqlalchemy import select

from ..executors import Executor
from ..instances import InstanceType
from ..procs import identity
from .claims import new_claim
from .db import RunRow
from .locks import index_lock
from .queue import has_waiting, queue_dir
from .transitions import Transition

ACTIVE = ("PREPARING", "RUNNING")


class Usage:
    """What the active runs hold, per executor, instance type and user."""

    def __init__(self, active: list[RunRow]):
        self.cpus: Counter = Counter()
        self.memory: Counter = Counter()
        self.gpus: dict[str, set[str]] = {}
        self.by_type: Counter = Counter()
        self.by_user: Counter = Counter()
        self.total = 0
        for row in active:
            self.add(row, row.resources or {})

    def add(self, row: RunRow, resources: dict) -> None:
        self.cpus[row.executor] += resources.get("cpus", 0)
        self.memory[row.executor] += resources.get("memory_gb", 0)
        self.gpus.setdefault(row.executor, set()).update(resources.get("gpus", []))
        self.by_type[row.instance_type] += 1
        self.by_user[row.owner] += 1
        self.total += 1


class Scheduler:
    def __init__(self, service):
        self.service = service
        self.settings = service.settings
        self.queue_dir = queue_dir(self.settings.data_dir)
        self.queue_dir.mkdir(parents=True, exist_ok=True)

    def enqueue(self, run_id: str) -> None:
        """A marker per queued run lets a finishing runner see, without a database, that work waits."""
        (self.queue_dir / run_id).touch()

    def has_waiting(self) -> bool:
        """Whether a queued run's marker is there (a cheap look, no database)."""
        return has_waiting(self.queue_dir)

    def request(self, instance: InstanceType, executor: Executor) -> dict:
        """A type bigger than the executor takes all of it (and runs alone) rather than never."""
        return {"cpus": min(instance.cpus, executor.cpus), "memory_gb": min(instance.memory_gb, executor.memory_gb),
                "gpus": instance.whole_gpus}

    def dispatch(self) -> list[str]:
        """Start every queued run that fits now, oldest first; returns the ids started."""
        svc = self.service
        started: list[str] = []
        claimed = []
        # Settle the active runs first, outside the lock: a run that ended frees its capacity, and what
        # follows from it (a retry) is admitted before the lock is taken, never under it.
        svc.settle_active()
        with index_lock(svc.engine, "dispatch"):
            with svc.index.Session() as session:
                # Servers with data dirs of their own share the index (and capacity) but each starts its own runs.
                queued = session.scalars(select(RunRow).where(
                    RunRow.status == "QUEUED", RunRow.run_dir.startswith(f"{svc.runs_dir}{os.sep}", autoescape=True))
                    .order_by(RunRow.created_at, RunRow.id)).all()
                if not queued:
                    return started
                active = session.scalars(select(RunRow).where(RunRow.status.in_(ACTIVE))).all()
            usage = Usage(active)
            blocked: set[str] = set()
            for row in queued:
                executor = svc.registry.find(row.executor)
                if executor is None or row.executor in blocked:
                    continue  # another server may own that executor; FIFO: nothing passes a blocked head
                if not self._within_limits(row, usage):
                    continue
                resources = self._fit(row, executor, usage)
                if resources is None:
                    blocked.add(row.executor)
                    continue
                claim = new_claim(identity(), self.settings.claim_lease_seconds)
                if self._claim(row.id, resources, claim):
                    row.status, row.resources, row.claimed_by = "PREPARING", resources, claim
                    usage.add(row, resources)
                    claimed.append((row, executor, resources))
                    started.append(row.id)
                self._unmark(row.id)
        # Claimed runs hold their capacity (PREPARING, with resources); starting them may be slow (an
        # image pull), so it happens outside the lock that other dispatchers wait on.
        for row, executor, resources in claimed:
            svc.launch(row, executor, resources)
        return started

    def _within_limits(self, row: RunRow, usage: Usage) -> bool:
        s = self.settings
        if s.max_concurrent and usage.total >= s.max_concurrent:
            return False
        limit = s.max_per_instance_type.get(row.instance_type)
        if limit is not None and usage.by_type[row.instance_type] >= limit:
            return False
        return not (s.max_per_user and usage.by_user[row.owner] >= s.max_per_user)

    def _fit(self, row: RunRow, executor: Executor, usage: Usage) -> dict | None:
        want = self.request(self.service.catalogue.get(row.instance_type), executor)
        free_gpus = [g for g in executor.gpus if g not in usage.gpus.get(executor.name, set())]
        if (usage.cpus[executor.name] + want["cpus"] > executor.cpus + 1e-9
                or usage.memory[executor.name] + want["memory_gb"] > executor.memory_gb + 1e-9
                or len(free_gpus) < want["gpus"]):
            return None
        return {**want, "gpus": free_gpus[: want["gpus"]]}

    def _claim(self, run_id: str, resources: dict, claim: dict | None = None) -> bool:
        """QUEUED -> PREPARING with its resources and a claim naming this process (with a token the
        start and an undo compare on); False when another dispatcher claimed it first."""
        claim = claim or new_claim(identity(), self.settings.claim_lease_seconds)
        return self.service.index.apply(Transition(run_id, "QUEUED", {
            "status": "PREPARING", "resources": resources, "claimed_by": claim}))

    def _unmark(self, run_id: str) -> None:
        try:
            os.unlink(self.queue_dir / run_id)
        except FileNotFoundError:
            pass
