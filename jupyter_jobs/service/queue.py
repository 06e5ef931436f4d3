"""The queue's marker folder: one empty file per queued run (`Scheduler.enqueue`), so a finishing runner
and a read-only client see without the database, or the service, that runs wait to be dispatched."""

from __future__ import annotations

import os
from pathlib import Path


def queue_dir(data_dir: str | Path) -> Path:
    return Path(data_dir) / "queue"


def has_waiting(folder: Path) -> bool:
    """Whether a queued run's marker is there (a cheap look; a missing folder holds none)."""
    try:
        return any(os.scandir(folder))
    except FileNotFoundError:
        return False
