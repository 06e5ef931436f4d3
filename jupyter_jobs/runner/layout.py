"""Reading and writing the run directory (its file names and event types are in runner/protocol.py).

Standard library only: the runner imports this inside containers and bare environments.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import time
from pathlib import Path

from .protocol import EVENTS, EventType


def write_json(path: Path, data) -> None:
    """Write-then-rename, so a reader never sees half a file. The temporary file is created new
    (`mkstemp`: O_EXCL, O_NOFOLLOW), so a name the job planted in the run dir is never written through."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_json(path: Path):
    """The file's JSON, or None when it is missing; a symlink or special file there is refused (OSError)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    with open(fd, encoding="utf-8") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        return json.load(fh)


def event_line(kind: str, **fields) -> str:
    """One line of events.jsonl: the fields, the event's type and when it happened."""
    fields.update(type=kind, t=time.time())
    return json.dumps(fields) + "\n"


def open_events(run_dir: Path):
    """EVENTS for appending: owner-only, never through a symlink or into a FIFO the job put there."""
    fd = os.open(run_dir / EVENTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
                 | os.O_CLOEXEC, 0o600)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{run_dir / EVENTS} is not a regular file")
    os.set_blocking(fd, True)
    return open(fd, "a", encoding="utf-8")


def append_system(run_dir: Path, text: str) -> None:
    """A system log line written before the runner starts (e.g. the executor pulling an image), as
    the runner writes its own: a `log` event of the system stream (EVENTS holds the only copy of the logs)."""
    with open_events(run_dir) as fh:
        fh.write(event_line(EventType.LOG, stream="system", text=f"{text}\n"))
