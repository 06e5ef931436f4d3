"""Display frames: rich outputs a job writes in-band on its stdout (standard library only).

A frame is `MARKER + json + "\\n"` (see runner/nbexec.py, which writes them for cell and notebook
jobs; any job may). Sharing the stdout pipe keeps text and displays in the order they were
produced. The runner splits stdout into plain text (logged as usual) and frames, which become
`{"type": "display", "msg_type": ..., "data": ..., "metadata": ..., "display_id": ...}` events.
"""

from __future__ import annotations

import json

MARKER = "\x1ejupyter-jobs:display\x1f"
MSG_TYPES = frozenset({"display_data", "update_display_data", "execute_result", "clear_output", "error"})
#: Keys a frame may carry into its event.
FIELDS = ("msg_type", "data", "metadata", "display_id", "execution_count", "wait", "ename", "evalue",
          "traceback", "cell", "summary")
_MAX_FRAME = 256 << 20  # a frame never ends: give its text back rather than hold memory forever


class DisplayFrames:
    """Feed stdout text in; get `("text", str)` and `("display", dict)` parts back, in order."""

    def __init__(self):
        self.held = ""

    def feed(self, text: str, final: bool = False) -> list[tuple[str, object]]:
        buf = self.held + text
        self.held = ""
        parts: list[tuple[str, object]] = []
        while True:
            start = buf.find(MARKER)
            if start < 0:
                break
            if start:
                parts.append(("text", buf[:start]))
            end = buf.find("\n", start)
            if end < 0:
                if final or len(buf) - start > _MAX_FRAME:
                    parts.append(("text", buf[start:]))
                    buf = ""
                else:
                    self.held = buf[start:]
                    buf = ""
                break
            frame = _parse(buf[start + len(MARKER):end])
            parts.append(("display", frame) if frame else ("text", buf[start:end + 1]))
            buf = buf[end + 1:]
        if buf and not final:  # keep a tail that may be the start of a marker split across reads
            cut = buf.rfind(MARKER[0], max(0, len(buf) - len(MARKER) + 1))
            if cut >= 0 and MARKER.startswith(buf[cut:]):
                self.held, buf = buf[cut:], buf[:cut]
        if buf:
            parts.append(("text", buf))
        return parts


def _parse(payload: str) -> dict | None:
    try:
        frame = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(frame, dict) or frame.get("msg_type") not in MSG_TYPES:
        return None
    return {key: frame[key] for key in FIELDS if key in frame}


def error_summary(frame: dict) -> str:
    return frame.get("summary") or f"{frame.get('ename', 'Error')}: {frame.get('evalue', '')}".rstrip(": ")
