"""How long a run's data is kept: its TTL, deleting one run, and the cleanup of expired run folders
and of blobs no kept run references."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from sqlalchemy import select

from ..errors import Conflict
from ..runner import protocol
from .blobs import BlobStore
from .db import RunRow, ScheduleRow
from .index import RunIndex

_CLEANUP_EVERY = 3600.0


class Retention:
    def __init__(self, index: RunIndex, blobs: BlobStore, data_dir: Path):
        self.index = index
        self.blobs = blobs
        self.marker = data_dir / ".last-cleanup"

    def set_ttl(self, row: RunRow, days: float | None) -> None:
        self.index.set_expiry(row.id, None if days is None else row.created_at + days * 86400)

    def delete(self, row: RunRow) -> None:
        """Delete a settled run's folder and row; a live run must be cancelled first."""
        if row.status not in protocol.FINAL_STATUSES:
            raise Conflict(f"job {row.id} is {row.status}", hint="cancel it first")
        shutil.rmtree(row.run_dir, ignore_errors=True)
        self.index.remove(row.id)

    def cleanup(self, now: float | None = None) -> dict:
        """Delete the data of runs past their TTL, then blobs no kept run or schedule needs."""
        now = now or time.time()
        with self.index.Session() as session:
            expired = session.scalars(select(RunRow).where(
                RunRow.expires_at.is_not(None), RunRow.expires_at < now,
                RunRow.data_deleted.is_(False), RunRow.status.in_(protocol.FINAL_STATUSES))).all()
            for row in expired:
                shutil.rmtree(row.run_dir, ignore_errors=True)
                row.data_deleted = True
            session.commit()
            kept = session.scalars(select(RunRow.bundle).where(RunRow.data_deleted.is_(False))).all()
            kept += [job["bundle"] for job in session.scalars(select(ScheduleRow.job))]  # what they fire next
        referenced = {f["sha256"] for b in kept for i in b.get("inputs", []) + [b.get("code") or {"files": []}]
                      for f in i["files"] if f.get("sha256")}
        freed = self.blobs.delete_unreferenced(referenced)
        self.marker.touch()
        return {"runs": len(expired), "blob_bytes": freed}

    def maybe_cleanup(self) -> None:
        """At most hourly, at service start."""
        try:
            if time.time() - self.marker.stat().st_mtime < _CLEANUP_EVERY:
                return
        except FileNotFoundError:
            self.marker.touch()
            return
        self.cleanup()
