"""The run directory: the one truth about a run, shared by the runner (writer) and the service (reader).

Standard library only: the runner imports this inside containers and bare environments.
"""

from __future__ import annotations

import json
import os
import time
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


def event_line(kind: str, **fields) -> str:
    """One line of events.jsonl: the fields, the event's type and when it happened."""
    fields.update(type=kind, t=time.time())
    return json.dumps(fields) + "\n"


def append_system(run_dir: Path, text: str) -> None:
    """A system log line written before the runner starts (e.g. the executor pulling an image), in the
    same two places the runner writes its own: the system log and the event stream."""
    with open(run_dir / log_file("system"), "ab") as fh:
        fh.write(f"{text}\n".encode("utf-8", "replace"))
    with open(run_dir / EVENTS, "a", encoding="utf-8") as fh:
        fh.write(event_line("log", stream="system", text=f"{text}\n"))
