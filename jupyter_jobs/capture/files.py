"""Hash a spec's input files and folders into a Bundle, checking size limits before any upload."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..spec.bundle import Bundle, BundleFile, BundleInput, local_path
from ..spec.models import FileRef, relative_path
from ..spec.units import format_size


@dataclass
class Captured:
    """A bundle plus where each blob lives on this machine (for the upload)."""

    bundle: Bundle
    sources: dict[str, Path] = field(default_factory=dict)


def hash_file(path: str | os.PathLike) -> str:
    """The sha256 a file is named by in the bundle and the service's blob store."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def capture_inputs(inputs: list[FileRef], base_dir: Path, max_file: int, max_total: int,
                   lines: dict[str, int] | None = None) -> Captured:
    captured = Captured(Bundle())
    total = 0
    lines = lines or {}
    for index, ref in enumerate(inputs):
        root = local_path(ref.path, base_dir)
        where = {"key": f"inputs[{index}]", "line": lines.get(f"inputs[{index}]", lines.get("inputs"))}
        if not root.exists():
            raise ConfigError(f"input {ref.path!r} does not exist", hint=f"looked for {root}", **where)
        item = BundleInput(ref=ref.path, is_dir=root.is_dir())
        entries = [(root, "")] if not item.is_dir else _walk(root)
        for path, rel in entries:
            try:
                relative_path(rel)  # a name the service would refuse: say which file, before any upload
            except ValueError as exc:
                raise ConfigError(f"input file {str(path)!r} cannot be sent: {exc}", hint="rename it", **where) \
                    from None
            info = path.stat()
            if stat.S_ISDIR(info.st_mode):
                item.files.append(BundleFile(path=rel, mode=0o755))
                continue
            if info.st_size > max_file:
                raise ConfigError(f"input file {path} is {format_size(info.st_size)}; the limit is "
                                  f"{format_size(max_file)}", **where)
            total += info.st_size
            if total > max_total:
                raise ConfigError(f"inputs add up to more than {format_size(max_total)}",
                                  hint="send less data, or ask the operator to raise max_upload_size",
                                  **where)
            sha = hash_file(path)
            captured.sources[sha] = path
            item.files.append(BundleFile(path=rel, sha256=sha, size=info.st_size,
                                         mode=stat.S_IMODE(info.st_mode)))
        captured.bundle.inputs.append(item)
    return captured


def _walk(root: Path):
    """Every file and folder below root, with its path relative to root (symlinks followed)."""
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs.sort()
        base = Path(folder)
        rel_base = base.relative_to(root).as_posix()
        rel_base = "" if rel_base == "." else rel_base + "/"
        for name in dirs:
            yield base / name, rel_base + name
        for name in sorted(files):
            yield base / name, rel_base + name


def capture_code(files: dict[str, Path], captured: Captured) -> None:
    """Add local modules (work-dir path -> file on this machine) to `captured` as the bundle's code."""
    code = BundleInput(ref="<code>")
    for dest, path in sorted(files.items()):
        info = path.stat()
        sha = hash_file(path)
        captured.sources[sha] = path
        code.files.append(BundleFile(path=dest, sha256=sha, size=info.st_size, mode=stat.S_IMODE(info.st_mode)))
    captured.bundle.code = code


def capture_python(lock, base_dir: Path, captured: Captured, shipped: dict[str, Path] | None = None) -> None:
    """Add a pinned Python environment (`pyenv.lock.EnvLock`) to `captured`: the lock itself, and its local
    modules (plus `shipped` files: work-dir path -> file here) as the bundle's code."""
    files = {rel: base_dir / rel for rel in lock.local_files}
    files.update({dest: Path(src) for dest, src in lock.extra_files.items()})
    files.update(shipped or {})
    capture_code(files, captured)
    captured.bundle.python = lock.to_dict()
