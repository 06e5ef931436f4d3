"""Content-addressed blob store: files named by sha256, so an unchanged file is stored once."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from ..errors import JobsError

_CHUNK = 1 << 20


class BlobStore:
    def __init__(self, root: Path):
        self.root = root
        (root / "tmp").mkdir(parents=True, exist_ok=True)

    def path(self, sha: str) -> Path:
        return self.root / sha[:2] / sha[2:]

    def has(self, sha: str) -> bool:
        return self.path(sha).is_file()

    def missing(self, shas) -> list[str]:
        return sorted({sha for sha in shas if not self.has(sha)})

    def put_file(self, src: str | os.PathLike, sha: str) -> bool:
        """Copy a local file in; False if it was already stored (nothing copied)."""
        if self.has(sha):
            return False
        with open(src, "rb") as fh:
            self.put_stream(sha, fh)
        return True

    def put_stream(self, sha: str, stream: BinaryIO) -> None:
        """Store what `stream` holds under `sha`, refusing content whose checksum differs."""
        digest = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=self.root / "tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != sha:
                raise JobsError(f"checksum mismatch for blob {sha[:12]}: got {digest.hexdigest()[:12]}",
                                hint="the file changed while it was uploaded; submit again")
            os.chmod(tmp, 0o444)
            self.path(sha).parent.mkdir(exist_ok=True)
            os.replace(tmp, self.path(sha))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def delete_unreferenced(self, referenced: set[str]) -> int:
        """Remove blobs no kept run needs; returns bytes freed."""
        freed = 0
        for path in self.root.glob("??/*"):
            sha = path.parent.name + path.name
            if sha not in referenced:
                freed += path.stat().st_size
                path.unlink()
        return freed
