"""The runner's side of the relay transport (`c.RayExecutor.transport = "relay"`): no disk is shared
with the service, so the runner keeps its run dir in a node-local folder and sends what the service
needs through its stdout, which is the Ray job's log: every events.jsonl line with its byte offset,
then the outputs and result.json (records: runner/protocol.py RELAY_MARKER).

It starts in Ray's copy of the staging folder the service uploaded (`runtime_env.working_dir`): the
plan, with the node-local run dir as its work dir's parent, and the input blobs under `blobs/`.
Standard library only.
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
import threading
import time
from pathlib import Path

from . import layout, protocol
from .protocol import EventType
from .runner import Runner, _cancel_request


class Records:
    """Relay records on the runner's stdout, numbered from 0 (the service applies each once)."""

    def __init__(self, out):
        self.out, self.n, self.lock = out, 0, threading.Lock()

    def send(self, **record) -> None:
        with self.lock:
            self.out.write(protocol.RELAY_MARKER + json.dumps({"n": self.n, **record}) + "\n")
            self.out.flush()
            self.n += 1


class RelayedEvents:
    """The runner's events.jsonl, each line also sent as a record with its byte offset in the file."""

    def __init__(self, events, records: Records):
        self.events, self.records, self.offset = events, records, 0

    def write(self, line: str) -> None:
        self.events.write(line)
        self.records.send(event=self.offset, line=line)
        self.offset += len(line.encode("utf-8"))

    def flush(self) -> None:
        self.events.flush()


class RelayRunner(Runner):
    """The runner, its events relayed, its outputs sent before its result event, its cancel Ray's."""

    def __init__(self, run_dir: Path, supervised: bool, records: Records):
        super().__init__(run_dir, supervised)
        self.records = records
        self.events = RelayedEvents(self.events, records)

    def collect(self, work: Path) -> None:
        super().collect(work)
        size = self._outputs_size()
        if size > protocol.RELAY_OUTPUTS_LIMIT:
            raise OSError(f"the outputs are {size} bytes, more than the relay transport brings back "
                          f"({protocol.RELAY_OUTPUTS_LIMIT}); use c.RayExecutor.transport = 'shared-fs'")

    def emit(self, kind: str, **fields) -> None:
        if kind == EventType.RESULT:  # outputs and result.json first: the result event ends a follow
            self._send_outputs()
            self.records.send(result=layout.read_json(self.dir / protocol.RESULT))
        super().emit(kind, **fields)

    def _on_signal(self, signum, frame) -> None:
        """Ray's stop_job signalled every process of the job itself (RAY_JOB_STOP_SIGNAL, set to the
        spec's graceful signal): do not signal the job again, only kill it when the grace is over."""
        if self.cancel is None:
            self.cancel = _cancel_request(True, "cancelled")
            self.cancel.update(signalled=True, deadline=time.monotonic() + self.plan.graceful.timeout)

    def _output_files(self) -> list[Path]:
        root = self.dir / protocol.OUTPUTS
        return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()) if root.is_dir() else []

    def _outputs_size(self) -> int:
        return sum(p.stat().st_size for p in self._output_files())

    def _send_outputs(self) -> None:
        """Every output file in chunks (none when they are too many bytes: collect() failed the run)."""
        if self._outputs_size() > protocol.RELAY_OUTPUTS_LIMIT:
            return
        root = self.dir / protocol.OUTPUTS
        for path in self._output_files():
            rel, mode = str(path.relative_to(root)), path.stat().st_mode & 0o777
            with open(path, "rb") as fh:
                at = 0
                while True:
                    data = fh.read(protocol.RELAY_CHUNK)
                    if data or not at:  # an empty file is one empty chunk
                        self.records.send(file=rel, at=at, mode=mode, data=base64.b64encode(data).decode())
                    if len(data) < protocol.RELAY_CHUNK:
                        break
                    at += len(data)


def run_relayed(staging: Path, supervised: bool) -> int:
    """Make the node-local run dir from the staging folder, run the job there, remove it after."""
    plan = layout.read_json(staging / protocol.PLAN)
    run_dir = Path(plan["work_dir"]).parent
    run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for item in plan["inputs"]:
        if item.get("blob"):
            item["blob"] = str(staging.resolve() / item["blob"])
    layout.write_json(run_dir / protocol.PLAN, plan)
    try:
        return RelayRunner(run_dir, supervised, Records(sys.stdout)).run()
    finally:
        if not plan.get("keep_workdir"):
            shutil.rmtree(run_dir, ignore_errors=True)
