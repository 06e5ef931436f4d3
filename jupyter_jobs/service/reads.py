"""Reading runs: one, a page of them, their events as written and as they come, logs, folders.

Each row read that could still change is settled first (`settle`, given by the service: reconcile it,
then run what follows), so what a reader sees is what the run dir says now; nothing here writes the
index itself. A finished run is read as indexed, without calling `settle`: the embedded client reads
those with the index alone, building the service (executors and all) only for a live run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import ValidationError

from ..errors import NotFound
from ..runner import protocol
from ..runner.protocol import EventType, Status
from ..spec.models import JobSpec
from .db import RunRow
from .index import RunIndex, is_settled
from .rundir import RunDir
from .schemas import Run

log = logging.getLogger(__name__)


class Reads:
    def __init__(self, index: RunIndex, settle: Callable[[RunRow], RunRow]):
        self.index = index
        self._settle = settle

    def settle(self, row: RunRow) -> RunRow:
        return row if is_settled(row) else self._settle(row)

    def get(self, run_id: str) -> Run:
        return self.to_run(self.settle(self.index.row(run_id)))

    def list(self, status: list[str] | None = None, query: str | None = None,
             limit: int = 100, offset: int = 0) -> list[Run]:
        positions: dict[str, dict[str, int]] = {}  # one queue query per executor, not per queued run
        return [self.to_run(self.settle(row), positions) for row in self.index.page(status, query, limit, offset)]

    def events(self, run_id: str, offset: int = 0) -> tuple[list[dict], int]:
        return RunDir(self.index.row(run_id).run_dir).read_events(offset)

    def follow(self, run_id: str, offset: int = 0, poll: float = 0.05) -> Iterator[dict]:
        """Events as the runner writes them, until the run has ended and all were read."""
        row = self.index.row(run_id)
        rundir = RunDir(row.run_dir)
        delay = 0.005
        while True:
            events, offset = rundir.read_events(offset)
            yield from events
            if any(e["type"] == EventType.RESULT.value for e in events):
                return
            if events:
                delay = 0.005
                continue
            row = self.settle(row)
            if row.status in protocol.FINAL_STATUSES:
                events, offset = rundir.read_events(offset)
                yield from events
                if not any(e["type"] == EventType.RESULT.value for e in events):
                    yield {"type": EventType.RESULT.value, "t": time.time(), "status": row.status,
                           "exit_code": row.exit_code, "error": row.error}
                return
            time.sleep(delay)
            delay = min(delay * 1.5, poll)

    def logs(self, run_id: str, stream: str) -> str:
        return "".join(RunDir(self.index.row(run_id).run_dir).log_chunks(stream))

    def outputs_dir(self, run_id: str) -> Path:
        row = self.settle(self.index.row(run_id))
        if row.data_deleted:
            raise NotFound(f"job {run_id}'s data expired and was deleted")
        return Path(row.run_dir) / protocol.OUTPUTS

    def run_dir(self, run_id: str) -> Path:
        return Path(self.index.row(run_id).run_dir)

    def to_run(self, row: RunRow, positions: dict[str, dict[str, int]] | None = None) -> Run:
        """`positions` caches each executor's queue across the rows of one listing."""
        data = {c: getattr(row, c) for c in Run.model_fields if hasattr(row, c)}
        try:
            run = Run.model_validate(data)
        except ValidationError as exc:
            # A run stored before a stricter input rule: list it as it was stored rather than fail every
            # listing (a fork of it is still checked in full).
            log.warning("run %s was stored with a spec the current rules refuse: %s", row.id, exc.errors()[0]["msg"])
            run = Run.model_validate({**data, "spec": JobSpec.model_construct(**row.spec)})
        if run.status == Status.QUEUED.value:
            positions = {} if positions is None else positions
            if row.executor not in positions:
                positions[row.executor] = self.index.queue_positions(row.executor)
            run.queue_position = positions[row.executor].get(row.id)
        return run
