"""The run directory: the one truth about a run, shared by the runner (writer) and the service (reader).

Standard library only: the runner imports this inside containers and bare environments.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

PLAN = "plan.json"  # what to run, written by the service before start
EVENTS = "events.jsonl"  # one JSON object a line: status, log chunks, progress, result
RESULT = "result.json"  # written last, atomically: how the run ended
PID = "runner.pid"
CANCEL = "cancel.json"  # written by the service before it signals the runner
PROGRESS = "progress.jsonl"  # JOB_PROGRESS_FILENAME points here
WORK = "work"
OUTPUTS = "outputs"
STREAMS = ("stdout", "stderr", "system")

FINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "LOST"})


def log_file(stream: str) -> str:
    return f"{stream}.log"


def write_json(path: Path, data) -> None:
    """Write-then-rename, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_json(path: Path):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None
