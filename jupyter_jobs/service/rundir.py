"""Reading a run directory written by the runner: events from an offset, the latest state, the result."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..runner import layout

_TAIL = 1 << 16


class RunDir:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def result(self) -> dict | None:
        return layout.read_json(self.path / layout.RESULT)

    def read_events(self, offset: int = 0, max_bytes: int = 1 << 22) -> tuple[list[dict], int]:
        """Complete event lines after byte `offset`, and the offset to continue from."""
        try:
            with open(self.path / layout.EVENTS, "rb") as fh:
                fh.seek(offset)
                data = fh.read(max_bytes)
        except FileNotFoundError:
            return [], offset
        end = data.rfind(b"\n") + 1
        if end == 0 and len(data) == max_bytes:  # one event larger than max_bytes: take it whole
            with open(self.path / layout.EVENTS, "rb") as fh:
                fh.seek(offset)
                data = fh.readline()
            end = len(data) if data.endswith(b"\n") else 0
        events = [json.loads(line) for line in data[:end].splitlines() if line.strip()]
        return events, offset + end

    def latest(self) -> dict:
        """The last status and progress the runner reported (reads only the file's tail)."""
        state: dict = {}
        try:
            with open(self.path / layout.EVENTS, "rb") as fh:
                size = fh.seek(0, os.SEEK_END)
                fh.seek(max(0, size - _TAIL))
                tail = fh.read()
        except FileNotFoundError:
            return state
        for line in reversed(tail.splitlines()):
            try:
                event = json.loads(line)
            except ValueError:
                continue  # the first, cut line of the tail
            if event.get("type") == "status" and "status" not in state:
                state["status"] = event["status"]
                if "started_at" in event:
                    state["started_at"] = event["started_at"]
            elif event.get("type") == "progress" and "progress" not in state:
                state["progress"] = event["progress"]
                state["progress_message"] = event.get("message")
            if "status" in state and "progress" in state:
                break
        if state.get("status") == "RUNNING" and "started_at" not in state:
            state.update(self._started_at())
        return state

    def _started_at(self) -> dict:
        events, _ = self.read_events(0, 1 << 16)
        for event in events:
            if event.get("type") == "status" and event.get("status") == "RUNNING":
                return {"started_at": event.get("started_at", event["t"])}
        return {}

    def log_text(self, stream: str) -> str:
        try:
            return (self.path / layout.log_file(stream)).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
