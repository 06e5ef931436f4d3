"""What every `jupyter jobs` command shares: exit codes, the client, the disk-full step tracker."""

from __future__ import annotations

from ..errors import JobsError

EXIT_USAGE = 2  # a mistake of the user's (one line on stderr)
EXIT_DISK_FULL = 1
EXIT_DETACHED = 130  # Ctrl-C left the job running


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    out = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise JobsError(f"{flag} {item!r}: expected NAME=VALUE")
        out[name] = value
    return out


#: What the command is doing, for the one line a full disk gets (`_step` sets it as it goes).
_DOING: list[str] = []


def _step(what: str) -> None:
    _DOING.append(what)


def _disk_full(exc: BaseException) -> str | None:
    """The path (or the data dir) when `exc` is, or was caused by, a full disk or quota: an OSError
    ENOSPC/EDQUOT, or SQLite's "database or disk is full"."""
    import errno

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return str(seen.filename or _data_dir())
        if "database or disk is full" in str(getattr(seen, "orig", None) or seen):
            return str(_data_dir())
        seen = seen.__cause__ or seen.__context__
    return None


def _data_dir() -> str:
    from ..settings import load_settings

    return load_settings().data_dir


def _client(submitting: bool = False):
    """The client; `submitting`: a submit follows (see `connect`)."""
    from ..connect import connect

    _step("opening the jobs data dir")
    client = connect(submitting=submitting)
    _DOING.pop()
    return client


def _show(items: list, fmt: str, table, empty, as_json=lambda item: item.model_dump(mode="json")) -> int:
    """A listing (runs, schedules): JSON (each item `as_json(item)`) with `--format json`, else
    `table(items)`, else, when there is nothing, the line `empty()` on stderr."""
    import json

    from .. import console

    if fmt == "json":
        print(json.dumps([as_json(item) for item in items], indent=1))
    elif items:
        print(table(items))
    else:
        console.info(empty())
    return 0
