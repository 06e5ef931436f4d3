"""Cron expressions in a time zone: checked, described and iterated with `cronsim` and `cron-descriptor`.

cronsim walks wall-clock time in the zone, so daylight-saving changes follow its rules: a tick in the
hour that does not exist (spring forward, e.g. 02:30 in Europe/Berlin) fires at the first minute that
does (03:00); a tick in the hour that happens twice (fall back) fires once, at its first occurrence.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from cron_descriptor import get_description
from cronsim import CronSim, CronSimError

#: minute hour day-of-month month day-of-week (cronsim also takes seconds and @-aliases: not here).
FIELDS = 5


def check_cron(expr: str) -> str:
    """The expression, normalised; ValueError saying what is wrong (pydantic names the field)."""
    fields = expr.split()
    if len(fields) != FIELDS:
        raise ValueError(f"{expr!r} has {len(fields)} field{'s' * (len(fields) != 1)}; a cron expression has 5: "
                         "minute hour day-of-month month day-of-week (e.g. '0 3 * * *')")
    normal = " ".join(fields)
    try:
        CronSim(normal, datetime(2000, 1, 1))
    except CronSimError as exc:
        raise ValueError(f"{expr!r} is not a valid cron expression: {exc}") from None
    return normal


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_timezone(name: str) -> str:
    """An IANA time zone name (one of the zone database's keys, never a path); ValueError otherwise."""
    if name not in _zones():
        raise ValueError(f"{name[:80]!r} is not a known IANA time zone (e.g. 'UTC', 'Europe/Berlin')")
    return name


def describe(expr: str) -> str:
    """Human-readable text, e.g. "At 03:00 AM" (the expression itself where cron-descriptor has no words)."""
    try:
        return get_description(expr)
    except Exception:  # noqa: BLE001 - its errors have no common base; the words are only a help
        return expr


def ticks_after(expr: str, zone: str, after: float) -> Iterator[float]:
    """The fire times (epoch seconds) strictly after `after`, in order."""
    start = datetime.fromtimestamp(after, timezone.utc).astimezone(ZoneInfo(zone))
    last = after
    for tick in CronSim(expr, start):
        at = tick.timestamp()
        if at > last:  # wall-clock iteration can repeat an instant around a fall-back change
            last = at
            yield at


def next_times(expr: str, zone: str, after: float, count: int = 3) -> list[float]:
    ticks = ticks_after(expr, zone, after)
    return [next(ticks) for _ in range(count)]
