"""Display frames: rich outputs a job writes in-band on its stdout (standard library only).

A frame is `DISPLAY_MARKER + json + "\\n"` (runner/protocol.py; runner/nbexec.py writes them for cell
and notebook jobs; any job may). Sharing the stdout pipe keeps text and displays in the order they
were produced. The runner splits stdout into plain text (logged as usual) and frames, which become
`{"type": "display", "msg_type": ..., "data": ..., "metadata": ..., "display_id": ...}` events.
"""

from __future__ import annotations

import json

from .protocol import DISPLAY_MARKER, DISPLAY_MSG_TYPES, FRAME_FIELDS

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
            start = buf.find(DISPLAY_MARKER)
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
            frame = _parse(buf[start + len(DISPLAY_MARKER):end])
            parts.append(("display", frame) if frame else ("text", buf[start:end + 1]))
            buf = buf[end + 1:]
        if buf and not final:  # keep a tail that may be the start of a marker split across reads
            cut = buf.rfind(DISPLAY_MARKER[0], max(0, len(buf) - len(DISPLAY_MARKER) + 1))
            if cut >= 0 and DISPLAY_MARKER.startswith(buf[cut:]):
                self.held, buf = buf[cut:], buf[:cut]
        if buf:
            parts.append(("text", buf))
        return parts


def _parse(payload: str) -> dict | None:
    try:
        frame = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(frame, dict) or frame.get("msg_type") not in DISPLAY_MSG_TYPES:
        return None
    return {key: frame[key] for key in FRAME_FIELDS if key in frame}


def error_summary(frame: dict) -> str:
    return frame.get("summary") or f"{frame.get('ename', 'Error')}: {frame.get('evalue', '')}".rstrip(": ")
