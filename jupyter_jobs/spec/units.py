"""Durations (`1h2m3s`) and sizes (`150Gb`) as written in configs, CLI flags and magic options; counts as
written in messages (`1 file`, `2 files`)."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$")
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([KMGT]?)(i?)([Bb]?)$", re.IGNORECASE)
_SCALE = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_duration(text: str) -> float:
    """Seconds from `90`, `90s`, `5m`, `1h2m3s`; ValueError on anything else."""
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:  # float() also takes "-5", "nan" and "inf": none is a duration
        if not 0 <= seconds < float("inf"):
            raise ValueError(f"{text!r} is not a duration like 30s, 5m or 1h2m3s")
        return seconds
    match = _DURATION.match(text)
    if not text or not match:
        raise ValueError(f"{text!r} is not a duration like 30s, 5m or 1h2m3s")
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


def format_duration(seconds: float) -> str:
    """The inverse of parse_duration, for writing specs back and for tables."""
    seconds = round(seconds, 3)
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    frac = seconds - int(seconds)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    if secs or frac or not (hours or minutes):
        parts.append(f"{secs + frac:g}s")
    return "".join(parts)


def parse_size(text: str) -> int:
    """Bytes from `150Gb`, `100G`, `2TiB`, `512MB`, `1024` (bytes); units are binary, as the reference."""
    match = _SIZE.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a size like 100Gb or 512MB")
    number, unit, _, _ = match.groups()
    return int(float(number) * _SCALE[unit.upper()])


def format_size(num: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(num) < 1024:
            return f"{num:.0f} {unit}" if unit == "B" else f"{num:.1f} {unit}"
        num /= 1024
    return f"{num:.1f} TiB"


def plural(count: int, noun: str) -> str:
    """`1 output file`, `2 output files`: what every message that counts says."""
    return f"{count} {noun}" + ("" if count == 1 else "s")
