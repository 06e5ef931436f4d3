"""Telling a live process from a dead one or a recycled pid (Linux /proc; elsewhere the pid is trusted)."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name (which may hold spaces): field 3 onwards."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return None


def start_time(pid: int) -> int | None:
    fields = stat_fields(pid)
    return int(fields[19]) if fields else None  # field 22 of stat: start time in clock ticks


def identity(pid: int | None = None) -> dict:
    """Who a process is, so another process can later tell whether it still runs: host, pid, start time."""
    pid = pid or os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "started": start_time(pid)}


def is_alive(pid: int, started: int | None = None) -> bool:
    """The pid runs and, when `started` is known, is the same process (not a recycled pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = stat_fields(pid)
    if fields is None:
        return True  # no /proc: trust the pid
    if fields[0] == "Z":
        return False  # exited, not yet reaped
    return started is None or int(fields[19]) == started


def is_gone(who: dict) -> bool:
    """True only when `who` (from `identity`) was on this host and no longer runs; another host's
    process cannot be checked from here, so it never counts as gone (a run's claim has a lease for that)."""
    return who.get("host") == socket.gethostname() and not is_alive(who["pid"], who.get("started"))
