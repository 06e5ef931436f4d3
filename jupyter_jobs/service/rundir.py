"""Reading a run directory: events from an offset, the latest state, the result, the text logs.

Everything here was written by the runner, which runs beside the job (with the Docker executor, in
the job's container with the run dir mounted read-write), so it is read as hostile input: files are
opened without following symlinks (`safefs`), a line of events.jsonl that is not a well-formed event
(not JSON, not UTF-8, wrong field types, longer than `MAX_LINE`) is skipped and counted, and a
result.json that does not hold a final status is an invalid result, never an exception.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ..runner import protocol
from ..runner.protocol import EventType, Status
from . import safefs

log = logging.getLogger(__name__)

_TAIL = 1 << 16
MAX_LINE = 64 << 20  # a longer events.jsonl line is skipped (the runner's largest is a display frame)
_MAX_RESULT = 1 << 20
_MAX_TEXT = 4000  # an error or progress message is cut to this many characters
_SCAN = 1 << 20
_FINAL = frozenset(s.value for s in protocol.FINAL_STATUSES)
_LIVE = frozenset({Status.PREPARING.value, Status.RUNNING.value})  # what status events may say
_INT32 = 1 << 31
_LATEST = 1 << 33  # seconds since 1970 (year 2242): a later `t` is no time a reader can show


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _text(value) -> bool:
    return value is None or isinstance(value, str)


def _exit_code(value) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and -_INT32 <= value < _INT32)


_CHECKS = {
    EventType.LOG.value: lambda e: e.get("stream") in protocol.STREAMS and isinstance(e.get("text"), str)
    and e.get("level") in (None, *protocol.LOG_LEVELS),
    EventType.STATUS.value: lambda e: e.get("status") in _LIVE and ("started_at" not in e or _number(e["started_at"])),
    EventType.PROGRESS.value: lambda e: _number(e.get("progress")) and _text(e.get("message")),
    EventType.DISPLAY.value: lambda e: e.get("msg_type") in protocol.DISPLAY_MSG_TYPES
    and isinstance(e.get("data") or {}, dict) and isinstance(e.get("metadata") or {}, dict),
    EventType.RESULT.value: lambda e: e.get("status") in _FINAL and _exit_code(e.get("exit_code"))
    and _text(e.get("error")),
}


def parse_event(line: bytes) -> dict | None:
    """One events.jsonl line as an event, or None when it is not one the readers can rely on."""
    try:
        event = json.loads(line)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested without end
        return None
    if not isinstance(event, dict) or not _number(event.get("t")) or not 0 <= event["t"] < _LATEST:
        return None
    check = _CHECKS.get(event.get("type")) if isinstance(event.get("type"), str) else None
    return event if check is not None and check(event) else None


def check_result(data) -> dict:
    """result.json's fields, or a FAILED result saying why the file is not a valid one."""
    if not isinstance(data, dict):
        return invalid_result("it is not a JSON object")
    if data.get("status") not in _FINAL:
        return invalid_result(f"status {str(data.get('status'))[:40]!r} is not one of {', '.join(sorted(_FINAL))}")
    if not _exit_code(data.get("exit_code")):
        return invalid_result("exit_code is not a 32-bit integer or null")
    if not _text(data.get("error")):
        return invalid_result("error is not a string or null")
    error = data.get("error")
    finished = data.get("finished_at")
    return {"status": data["status"], "exit_code": data.get("exit_code"),
            "error": error[:_MAX_TEXT] if error else error,
            "finished_at": finished if _number(finished) else None}


def invalid_result(why: str) -> dict:
    return {"status": Status.FAILED.value, "exit_code": None, "error": f"the run left an invalid result.json: {why}",
            "finished_at": time.time()}


class RunDir:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        #: Lines of events.jsonl skipped as malformed by this reader so far.
        self.skipped = 0

    def result(self) -> dict | None:
        """How the run ended (status, exit_code, error, finished_at), checked; None while there is none."""
        try:
            with safefs.open_file(self.path, protocol.RESULT) as fh:
                raw = fh.read(_MAX_RESULT + 1)
        except FileNotFoundError:
            return None
        except safefs.NotRegular:
            return invalid_result("it is not a regular file")
        if len(raw) > _MAX_RESULT:
            return invalid_result(f"it is larger than {_MAX_RESULT} bytes")
        try:
            return check_result(json.loads(raw))
        except (ValueError, RecursionError):
            return invalid_result("it is not JSON")

    # -- events -----------------------------------------------------------------------------------
    def open_events(self) -> BinaryIO | None:
        """events.jsonl, or None when it is missing or not a regular file (then it holds no events)."""
        try:
            return safefs.open_file(self.path, protocol.EVENTS)
        except FileNotFoundError:
            return None
        except safefs.NotRegular:
            log.warning("%s/%s is not a regular file: ignored", self.path, protocol.EVENTS)
            return None

    def event_lines(self, offset: int = 0, max_bytes: int = 1 << 22) -> tuple[list[tuple[bytes, dict, int]], int]:
        """(line as written, event, offset after it) for each well-formed complete line after byte
        `offset` (about `max_bytes` of them), and the offset to continue from."""
        fh = self.open_events()
        if fh is None:
            return [], offset
        with fh:
            if offset >= os.fstat(fh.fileno()).st_size:  # nothing new (or an offset past any file)
                return [], offset
            fh.seek(offset)
            data = fh.read(max_bytes)
            end = data.rfind(b"\n") + 1
            if end == 0 and len(data) == max_bytes:
                data, end = _long_line(fh, data)
        out: list[tuple[bytes, dict, int]] = []
        pos = offset
        skipped = 0
        for line in data[:end].split(b"\n")[:-1] if data is not None else []:
            pos += len(line) + 1
            if not line.strip():
                continue
            event = parse_event(line) if len(line) <= MAX_LINE else None
            if event is None:
                skipped += 1
            else:
                out.append((line, event, pos))
        if data is None:  # one line over MAX_LINE, passed over
            skipped += 1
        if skipped:
            self.skipped += skipped
            log.warning("%s/%s: skipped %d malformed lines", self.path, protocol.EVENTS, skipped)
        return out, offset + end

    def read_events(self, offset: int = 0, max_bytes: int = 1 << 22) -> tuple[list[dict], int]:
        """Well-formed complete events after byte `offset`, and the offset to continue from."""
        lines, next_offset = self.event_lines(offset, max_bytes)
        return [event for _, event, _ in lines], next_offset

    def latest(self) -> dict:
        """The last status and progress the runner reported (reads only the file's tail)."""
        state: dict = {}
        fh = self.open_events()
        if fh is None:
            return state
        with fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - _TAIL))
            tail = fh.read()
        for line in reversed(tail.split(b"\n")):
            event = parse_event(line)  # the first line of the tail may be cut: not an event
            if event is None:
                continue
            if event["type"] == EventType.STATUS.value and "status" not in state:
                state["status"] = event["status"]
                if "started_at" in event:
                    state["started_at"] = event["started_at"]
            elif event["type"] == EventType.PROGRESS.value and "progress" not in state:
                state["progress"] = event["progress"]
                message = event.get("message")
                state["progress_message"] = message[:_MAX_TEXT] if message else message
            if "status" in state and "progress" in state:
                break
        if state.get("status") == Status.RUNNING.value and "started_at" not in state:
            state.update(self._started_at())
        return state

    def _started_at(self) -> dict:
        events, _ = self.read_events(0, 1 << 16)
        for event in events:
            if event["type"] == EventType.STATUS.value and event["status"] == Status.RUNNING.value:
                return {"started_at": event.get("started_at", event["t"])}
        return {}

    def log_chunks(self, stream: str) -> Iterator[str]:
        """A stream's text log, derived from the events as they are read (about a MB at a time), up to
        what was written when the read got there."""
        offset = 0
        while True:
            events, next_offset = self.read_events(offset, 1 << 20)
            if next_offset == offset:
                return
            text = "".join(e["text"] for e in events if e["type"] == EventType.LOG.value and e["stream"] == stream)
            if text:
                yield text
            offset = next_offset


def _long_line(fh: BinaryIO, data: bytes) -> tuple[bytes | None, int]:
    """The first line is longer than one read: read it whole up to MAX_LINE ((line, its length));
    a longer one is passed over ((None, its length)); one without its newline yet waits ((b"", 0))."""
    chunks, size = [data], len(data)
    while True:
        chunk = fh.read(_SCAN)
        if not chunk:
            return b"", 0
        cut = chunk.find(b"\n")
        if cut >= 0:
            size += cut + 1
            if size > MAX_LINE:
                return None, size
            chunks.append(chunk[:cut + 1])
            return b"".join(chunks), size
        size += len(chunk)
        if size <= MAX_LINE:
            chunks.append(chunk)
        else:
            chunks = []
