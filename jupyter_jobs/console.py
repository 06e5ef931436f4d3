"""Terminal output for the CLI: messages, tables, and a run's events as they stream in."""

from __future__ import annotations

import datetime as dt
import sys

from .runner.protocol import STREAMS, EventType
from .service.schemas import Run
from .spec.units import format_duration


def info(message: str) -> None:
    print(f"jobs: {message}", file=sys.stderr, flush=True)


def when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def duration(run: Run) -> str:
    return format_duration(round(run.duration, 1)) if run.duration is not None else "-"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def runs_table(runs: list[Run]) -> str:
    rows = [[r.id, (r.name or "-")[:40], _status(r), r.instance_type, when(r.created_at), duration(r),
             "-" if r.exit_code is None else str(r.exit_code)] for r in runs]
    return table(["ID", "NAME", "STATUS", "INSTANCE", "CREATED", "DURATION", "EXIT"], rows)


def _status(run: Run) -> str:
    return f"QUEUED #{run.queue_position}" if run.queue_position else run.status


def run_details(run: Run, executed_notebook=None) -> str:
    """`executed_notebook`: the path a notebook run's executed notebook is shown by (notebook/results.py)."""
    fields = [
        ("id", run.id), ("name", run.name or "-"), ("desc", run.desc or "-"), ("status", _status(run)),
        ("executor", run.executor), ("instance type", run.instance_type),
        ("created", when(run.created_at)), ("started", when(run.started_at)),
        ("finished", when(run.finished_at)), ("duration", duration(run)),
        ("exit code", "-" if run.exit_code is None else run.exit_code), ("error", run.error or "-"),
        ("parent", run.parent_id or "-"), ("source", run.origin.source or "-"),
        ("data kept until", "forever" if run.expires_at is None else when(run.expires_at)),
    ]
    if run.progress is not None:
        fields.append(("progress", f"{run.progress:.0f}% {run.progress_message or ''}".rstrip()))
    lines = [f"{k + ':':17}{v}" for k, v in fields]
    lines += [f"{'note:':17}{note}" for note in run.notes]
    for entry in run.outputs:
        state = "missing" if entry.missing else f"{sum(f.size for f in entry.files)} bytes"
        name = executed_notebook if entry.executed_notebook and executed_notebook else entry.name
        lines.append(f"{'output:':17}{name} ({state})")
    return "\n".join(lines)


class EventPrinter:
    """Writes a run's stdout and stderr through unchanged; status, progress and system lines to stderr."""

    def __init__(self, timestamps: bool = False, streams: set[str] | None = None, quiet: bool = False):
        self.timestamps = timestamps
        self.streams = streams or set(STREAMS)
        self.quiet = quiet  # only the job's own output (logs command)
        self.result: dict | None = None

    def __call__(self, event: dict) -> None:
        kind = event["type"]
        if kind == EventType.LOG and event["stream"] in self.streams:
            self._log(event)
        elif kind == EventType.STATUS and not self.quiet:
            info(f"status {event['status']}")
        elif kind == EventType.PROGRESS and not self.quiet:
            info(f"progress {event['progress']:.0f}% {event.get('message', '')}".rstrip())
        elif kind == EventType.DISPLAY and "stdout" in self.streams:
            self._display(event)
        elif kind == EventType.RESULT:
            self.result = event

    def _display(self, event: dict) -> None:
        """A terminal shows a rich output's plain-text form, or says what kind it was."""
        data = event.get("data") or {}
        if "text/plain" in data:
            text = data["text/plain"]
            text = "".join(text) if isinstance(text, list) else text
        elif data:
            text = f"[{', '.join(sorted(data))} output: open the run in JupyterLab to see it]"
        else:
            return
        sys.stdout.write(text.rstrip("\n") + "\n")
        sys.stdout.flush()

    def _log(self, event: dict) -> None:
        text = event["text"]
        if event["stream"] == "system":
            text = "".join(f"[system] {line}\n" for line in text.splitlines())
        if self.timestamps:
            stamp = dt.datetime.fromtimestamp(event["t"]).isoformat(timespec="milliseconds")
            text = "".join(f"{stamp} {line}" for line in text.splitlines(keepends=True))
        out = sys.stdout if event["stream"] == "stdout" else sys.stderr
        out.write(text)
        out.flush()

