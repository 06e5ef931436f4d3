"""Locks that serialise what processes sharing one run index decide: which queued runs fit the
capacity now (dispatch) and who upgrades the schema (migrate).

A SQLite index is one file on one host, so a file lock beside that file is enough (also for services
with data dirs of their own sharing it). A server database
(PostgreSQL) is shared by servers on several hosts, whose file locks cannot see each other: there the
lock is the database's own, a transaction-level advisory lock, released at commit or rollback and
when the holder's connection dies, so a server killed while holding it never blocks the others.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive flock on `path` (created if missing), for processes of one host."""
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for `name` (PostgreSQL advisory locks are keyed by bigint)."""
    return int.from_bytes(hashlib.sha256(f"jupyter-jobs:{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def index_lock(engine: Engine, name: str) -> Iterator[None]:
    """Hold the lock `name` of the run index behind `engine` for the block: a file lock beside a SQLite
    file, the database's advisory lock otherwise (on a connection of its own, so the block's own
    sessions are free to commit)."""
    if engine.dialect.name == "sqlite":
        with file_lock(Path(engine.url.database).parent / f".{name}.lock"):
            yield
        return
    with engine.connect() as conn, conn.begin():
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key(name)})
        yield
