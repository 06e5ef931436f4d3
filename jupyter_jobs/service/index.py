"""The run index as the service uses it: rows read by id, prefix, key or status, and changed only by
transitions applied as compare-and-set updates (`apply`), the one place a run's status is written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from ..errors import NotFound
from ..runner.protocol import FINAL_STATUSES
from .db import RunRow, make_engine, sessions, upgrade
from .safefs import private_dir

if TYPE_CHECKING:
    from .transitions import Transition


def open_index(data_dir: str | Path, db_url: str) -> RunIndex:
    """The run index of a data dir (made owner-only first), its schema brought up to date: what the
    service starts from, and all a read-only client (`EmbeddedClient` reading finished runs) needs."""
    private_dir(Path(data_dir))  # owner-only: logs, index and inputs, like the secrets file
    engine = make_engine(db_url)
    upgrade(engine)
    return RunIndex(engine)


def is_settled(row: RunRow) -> bool:
    """A final run, or one whose data is gone, never changes again: reading it observes nothing (and
    needs no executor, so `list`, `get` and `logs` of finished runs need only the index)."""
    return row.status in FINAL_STATUSES or bool(row.data_deleted)


def resolve_prefix(Session, column, prefix: str, what: str, hint: str) -> str:
    """The one id in `column` that is `prefix` or starts with it; else one error saying there is none
    (with `hint`) or several."""
    with Session() as session:
        ids = session.scalars(select(column).where(column.startswith(prefix)).limit(3)).all()
    if not ids:
        raise NotFound(f"no {what} with id {prefix!r}", hint=hint)
    if len(ids) > 1 and prefix not in ids:
        raise NotFound(f"id {prefix!r} matches several {what}s ({', '.join(ids)}...)", hint="type more characters")
    return prefix if prefix in ids else ids[0]


class RunIndex:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.Session = sessions(engine)

    # -- reading ----------------------------------------------------------------------------------------
    def find(self, run_id: str) -> RunRow | None:
        with self.Session() as session:
            return session.get(RunRow, run_id)

    def row(self, run_id: str) -> RunRow:
        """The row of a full id or a unique prefix of one."""
        return self.find(run_id) or self.find(self.resolve_id(run_id))

    def resolve_id(self, prefix: str) -> str:
        """Full id from a unique prefix (like git), so users can type the first few characters."""
        prefix = prefix.strip().lower()
        if not re.fullmatch(r"[0-9a-z]{1,32}", prefix):
            raise NotFound(f"{prefix!r} is not a job id", hint="see `jupyter jobs list`")
        return resolve_prefix(self.Session, RunRow.id, prefix, "job", "see `jupyter jobs list`")

    def by_key(self, key: str) -> RunRow | None:
        with self.Session() as session:
            return session.scalars(select(RunRow).where(RunRow.idempotency_key == key)).first()

    def with_status(self, statuses) -> list[RunRow]:
        """Rows in any of `statuses`, oldest first."""
        with self.Session() as session:
            return list(session.scalars(select(RunRow).where(RunRow.status.in_(list(statuses)))
                                        .order_by(RunRow.created_at, RunRow.id)).all())

    def page(self, status: list[str] | None, query: str | None, limit: int, offset: int) -> list[RunRow]:
        """Newest first, filtered by status and by a text found in the name, id or description."""
        stmt = select(RunRow).order_by(RunRow.created_at.desc(), RunRow.id.desc())
        if status:
            stmt = stmt.where(RunRow.status.in_(status))
        if query:
            like = f"%{query}%"
            stmt = stmt.where(or_(RunRow.name.ilike(like), RunRow.id.ilike(like), RunRow.desc.ilike(like)))
        with self.Session() as session:
            return list(session.scalars(stmt.limit(limit).offset(offset)).all())

    def queue_positions(self, executor: str) -> dict[str, int]:
        """Queue position (1 = next) of each queued run of `executor`."""
        with self.Session() as session:
            ids = session.scalars(select(RunRow.id).where(RunRow.status == "QUEUED", RunRow.executor == executor)
                                  .order_by(RunRow.created_at, RunRow.id)).all()
        return {run_id: i + 1 for i, run_id in enumerate(ids)}

    # -- changing ---------------------------------------------------------------------------------------
    def add(self, row: RunRow) -> bool:
        """Insert a new run; False when its idempotency key is taken (a concurrent submit won)."""
        with self.Session() as session:
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                if row.idempotency_key and self.by_key(row.idempotency_key):
                    return False
                raise
        return True

    def apply(self, transition: Transition) -> bool:
        """Make the change if the row is still as it was when the change was decided (its status and,
        when given, its claim); False when another process changed it first."""
        stmt = update(RunRow).where(RunRow.id == transition.run_id)
        if transition.from_status is not None:
            stmt = stmt.where(RunRow.status == transition.from_status)
        if transition.claim is not None:
            stmt = stmt.where(RunRow.claimed_by["claim"].as_string() == transition.claim)
        with self.Session() as session:
            changed = session.execute(stmt.values(**transition.changes)).rowcount
            session.commit()
        return changed == 1

    def set_expiry(self, run_id: str, expires_at: float | None) -> None:
        with self.Session() as session:
            session.execute(update(RunRow).where(RunRow.id == run_id).values(expires_at=expires_at))
            session.commit()

    def remove(self, run_id: str) -> None:
        with self.Session() as session:
            row = session.get(RunRow, run_id)
            if row is not None:
                session.delete(row)
            session.commit()
