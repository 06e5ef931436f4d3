"""The queue: FIFO per executor, started when the executor's CPUs, memory and GPU slots allow.

Starting a run is a claim, a conditional UPDATE (QUEUED -> PREPARING), so two processes or servers
sharing one database never start the same run twice; a file lock keeps processes on one host from
over-committing the same capacity.
"""

from __future__ import annotations

import fcntl
import os
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select, update

from ..executors import Executor
from ..instances import InstanceType
from ..procs import identity
from .db import RunRow

ACTIVE = ("PREPARING", "RUNNING")


@contextmanager
def file_lock(path: Path):
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


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
        self.queue_dir = Path(self.settings.data_dir) / "queue"
        self.queue_dir.mkdir(parents=True, exist_ok=True)

    def enqueue(self, run_id: str) -> None:
        """A marker per queued run lets a finishing runner see, without a database, that work waits."""
        (self.queue_dir / run_id).touch()

    def request(self, instance: InstanceType, executor: Executor) -> dict:
        """A type bigger than the executor takes all of it (and runs alone) rather than never."""
        return {"cpus": min(instance.cpus, executor.cpus), "memory_gb": min(instance.memory_gb, executor.memory_gb),
                "gpus": instance.whole_gpus}

    def dispatch(self) -> list[str]:
        """Start every queued run that fits now, oldest first; returns the ids started."""
        svc = self.service
        started: list[str] = []
        claimed = []
        with file_lock(Path(self.settings.data_dir) / ".dispatch.lock"):
            with svc.Session() as session:
                queued = session.scalars(select(RunRow).where(RunRow.status == "QUEUED")
                                         .order_by(RunRow.created_at, RunRow.id)).all()
                if not queued:
                    return started
                active = session.scalars(select(RunRow).where(RunRow.status.in_(ACTIVE))).all()
            usage = Usage([row for row in map(svc._refresh, active) if row.status in ACTIVE])
            blocked: set[str] = set()
            for row in queued:
                executor = svc._known_executor(row.executor)
                if executor is None or row.executor in blocked:
                    continue  # another server may own that executor; FIFO: nothing passes a blocked head
                if not self._within_limits(row, usage):
                    continue
                resources = self._fit(row, executor, usage)
                if resources is None:
                    blocked.add(row.executor)
                    continue
                if self._claim(row.id, resources):
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

    def _claim(self, run_id: str, resources: dict) -> bool:
        with self.service.Session() as session:
            claimed = session.execute(
                update(RunRow).where(RunRow.id == run_id, RunRow.status == "QUEUED")
                .values(status="PREPARING", resources=resources, claimed_by=identity())
            ).rowcount
            session.commit()
        return claimed == 1

    def _unmark(self, run_id: str) -> None:
        try:
            os.unlink(self.queue_dir / run_id)
        except FileNotFoundError:
            pass

    def positions(self, executor: str) -> dict[str, int]:
        """Queue position (1 = next) of each queued run of `executor`."""
        with self.service.Session() as session:
            ids = session.scalars(select(RunRow.id).where(RunRow.status == "QUEUED", RunRow.executor == executor)
                                  .order_by(RunRow.created_at, RunRow.id)).all()
        return {run_id: i + 1 for i, run_id in enumerate(ids)}
