"""Reading files the job itself can write (its run directory) without ever following a symlink.

With the Docker executor the run directory is mounted read-write into the container, so any path
under it may have been replaced by a symlink to a host file, a FIFO, or a device. Every component is
opened relative to its parent's descriptor with `O_NOFOLLOW`, and only regular files and real
directories are accepted. Standard library only.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK  # NONBLOCK: a FIFO never hangs us


class NotRegular(OSError):
    """The path is there but is a symlink, special file, or passes through one: never followed."""


def _parts(rel: str) -> list[str]:
    parts = [p for p in rel.split("/") if p]
    if rel.startswith("/") or "\x00" in rel or any(p in (".", "..") for p in parts):
        raise NotRegular(errno.EINVAL, "not a plain relative path", rel)
    return parts


def _open(name: str, flags: int, dir_fd: int | None, shown: str) -> int:
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENXIO):
            raise NotRegular(exc.errno, "a symlink or not a directory", shown) from None
        raise


def open_dir(root: Path, rel: str = "") -> int:
    """A descriptor of `root/rel`, each component opened without following symlinks; close it."""
    fd = _open(str(root), _FLAGS | os.O_DIRECTORY, None, str(root))
    for part in _parts(rel):
        try:
            child = _open(part, _FLAGS | os.O_DIRECTORY, fd, f"{root}/{rel}")
        finally:
            os.close(fd)
        fd = child
    return fd


def open_file(root: Path, rel: str) -> BinaryIO:
    """`root/rel` for reading, refused (`NotRegular`) unless it is a regular file reached without symlinks."""
    parts = _parts(rel)
    if not parts:
        raise NotRegular(errno.EISDIR, "not a file", str(root))
    parent = open_dir(root, "/".join(parts[:-1]))
    try:
        fd = _open(parts[-1], _FLAGS, parent, f"{root}/{rel}")
    finally:
        os.close(parent)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegular(errno.EINVAL, "not a regular file", f"{root}/{rel}")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def lstat(root: Path, rel: str) -> os.stat_result | None:
    """The status of `root/rel` itself (not a symlink's target), None when it does not exist; no
    component on the way is followed if it is a symlink."""
    parts = _parts(rel)
    if not parts:
        raise NotRegular(errno.EINVAL, "not a path below the root", str(root))
    try:
        parent = open_dir(root, "/".join(parts[:-1]))
    except FileNotFoundError:
        return None
    try:
        return os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return None
    finally:
        os.close(parent)


def walk_files(root: Path, rel: str = "") -> Iterator[tuple[str, int]]:
    """(path relative to `root`, size) of every regular file under `root/rel`, sorted; symlinks and
    special files are skipped, and a directory swapped for a symlink while walking is not entered."""
    fd = open_dir(root, rel)
    try:
        yield from _walk(fd, "/".join(_parts(rel)))
    finally:
        os.close(fd)


def _walk(fd: int, prefix: str) -> Iterator[tuple[str, int]]:
    with os.scandir(fd) as entries:
        found = sorted((e.name, e.stat(follow_symlinks=False)) for e in entries)
    for name, st in found:
        path = f"{prefix}/{name}" if prefix else name
        if stat.S_ISREG(st.st_mode):
            yield path, st.st_size
        elif stat.S_ISDIR(st.st_mode):
            try:
                child = _open(name, _FLAGS | os.O_DIRECTORY, fd, path)
            except (NotRegular, FileNotFoundError):
                continue
            try:
                yield from _walk(child, path)
            finally:
                os.close(child)



def private_dir(path: Path) -> Path:
    """`path` created if missing and made owner-only (0700), like the secrets file: run logs, the
    index and the stored inputs are nobody else's to read."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_uid == os.getuid():
        os.chmod(path, 0o700)
    return path


def private_file(path: Path) -> Path:
    """`path` created empty if missing, owner-only (0600); SQLite gives its WAL files the same mode.
    An existing file is never opened: closing a descriptor of a database would drop SQLite's locks."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600))
    except FileExistsError:
        pass
    return path
