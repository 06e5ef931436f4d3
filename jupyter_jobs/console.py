"""Terminal output for the CLI: messages, tables, and a run's events as they stream in."""

from __future__ import annotations

import datetime as dt
import os
import sys

from .runner.protocol import LOG_DETAIL, LOG_UPDATE, STREAMS, EventType
from .service.schemas import Run, Schedule
from .spec.units import format_duration, plural


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
    """The runs, one a line; with a PARAMETERS column when a notebook run among them has parameters."""
    rows = [[r.id, _cut(r.name or "-", 40), _status(r), r.instance_type, when(r.created_at), duration(r),
             "-" if r.exit_code is None else str(r.exit_code), _cut(run_source(r), 40)] for r in runs]
    headers = ["ID", "NAME", "STATUS", "INSTANCE", "CREATED", "DURATION", "EXIT", "SOURCE"]
    if any(r.origin.parameters for r in runs):
        headers.append("PARAMETERS")
        for row, run in zip(rows, runs):
            row.append(_cut(" ".join(f"{k}={v}" for k, v in run.origin.parameters.items()) or "-", 30))
    return table(headers, rows)


def run_source(run: Run) -> str:
    """What a run came from, by name: its config file or notebook, a `%%job` cell's `analysis.ipynb [5]`."""
    return os.path.basename(run.origin.source or "") or "-"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


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


def fire_time(ts: float | None, zone: str | None = None, now: float | None = None) -> str:
    """A schedule's fire time in this machine's time zone and how far off it is, e.g. "Fri 2026-12-04 00:00
    UTC (in 12h 59m)"; with `zone` (the schedule's, when it is another) also the time there."""
    import time
    from zoneinfo import ZoneInfo

    if ts is None:
        return "-"
    local = dt.datetime.fromtimestamp(ts).astimezone()
    text = local.strftime("%a %Y-%m-%d %H:%M %Z")
    there = dt.datetime.fromtimestamp(ts, ZoneInfo(zone)) if zone else None
    if there is not None and there.utcoffset() != local.utcoffset():
        text += there.strftime(f" = %H:%M {zone}")
    minutes = int((ts - (time.time() if now is None else now)) // 60)
    days, rest = divmod(max(minutes, 0), 1440)
    off = f"{days}d {rest // 60}h" if days else f"{rest // 60}h {rest % 60}m" if rest >= 60 else f"{rest}m"
    return f"{text} ({'due' if minutes < 0 else 'in ' + off if minutes else 'in <1m'})"


def schedules_table(schedules: list[Schedule]) -> str:
    rows = [[s.id, s.name[:40], f"{s.cron} {s.timezone}", "-" if s.paused else fire_time(s.next_fire_at),
             s.last_status or "-", "yes" if s.paused else "no"] for s in schedules]
    return table(["ID", "NAME", "CRON", "NEXT", "LAST", "PAUSED"], rows)


def schedule_created(schedule: Schedule, note: str | None) -> list[str]:
    """What `schedule create`, `%job schedule` and `%%job --cron` say; `note`: the client's
    `schedule_note` (through the service in this process, nothing fires it now)."""
    return [f"schedule {schedule.id} created: {schedule.description} ({schedule.timezone}), "
            f"{schedule.instance_type} on {schedule.executor}; next: "
            f"{fire_time(schedule.next_fire_at, schedule.timezone)}"] + ([f"note: {note}"] if note else [])


def schedule_changed(action: str, schedule: Schedule, resume_with: str = "", fired: int = 0) -> str:
    """What pausing, resuming and deleting a schedule say (the CLI and `%job schedules ACTION ID`);
    `resume_with`: the command that resumes it, `fired`: the runs a deleted schedule fired (they stay)."""
    s = schedule
    if action == "pause":
        return f"schedule {s.id} paused; `{resume_with} {s.id}` fires it again"
    if action == "resume":
        return f"schedule {s.id} resumed; next: {fire_time(s.next_fire_at, s.timezone)}"
    return f"schedule {s.id} deleted" + (f"; the {plural(fired, 'run')} it fired stay" if fired else "")


def schedule_details(schedule: Schedule, runs: list[Run]) -> str:
    """What `schedule get` and `%job schedules ID` show: the schedule, its next times, the ticks it skipped
    and its recent runs."""
    s = schedule
    fields = [
        ("id", s.id), ("name", s.name), ("source", s.source or "-"), ("kind", s.kind),
        ("cron", f"{s.cron} ({s.timezone}): {s.description}"),
        ("missed ticks", s.missed), ("overlap", s.overlap),
        ("executor", s.executor), ("instance type", s.instance_type),
        ("paused", "yes" if s.paused else "no"), ("created", when(s.created_at)),
    ]
    if s.parameters:
        fields.insert(9, ("parameters", ", ".join(f"{k}={v}" for k, v in s.parameters.items())))
    fields += [("next" if i == 0 else "", fire_time(t, s.timezone)) for i, t in enumerate(s.next_times)]
    fields += [("last run", f"{s.last_run_id} {s.last_status or ''} at {when(s.last_fired_at)}"
                if s.last_run_id else "-"), ("runs fired", s.run_count), ("ticks skipped", s.skipped_count)]
    lines = [f"{k + ':' if k else '':17}{v}" for k, v in fields]
    shown = s.skipped[:10]
    lines += [f"{'':17}{when(tick.at)}  {tick.reason}" for tick in shown]
    if s.skipped_count > len(shown):
        lines.append(f"{'':17}... and {s.skipped_count - len(shown)} more")
    if runs:
        lines += ["", "recent runs:", runs_table(runs[:10])]
    return "\n".join(lines)


class EventPrinter:
    """Writes a run's stdout and stderr through unchanged; status, progress and system lines to stderr.
    The system log's detail (uv's own lines) is shown only when asked for (`detail`: `logs --stream system`); its
    update lines (a build's progress) are one line rewritten in place on a terminal, else the first of
    them and then what replaces them."""

    def __init__(self, timestamps: bool = False, streams: set[str] | None = None, quiet: bool = False,
                 detail: bool = False):
        self.timestamps = timestamps
        self.streams = streams or set(STREAMS)
        self.quiet = quiet  # only the job's own output (logs command)
        self.detail = detail
        self.result: dict | None = None
        self.updating = False  # an update line is on the terminal, to be replaced by what comes next
        self.updated = False  # not a terminal: the first update line of a series was printed

    def __call__(self, event: dict) -> None:
        kind = event["type"]
        level = event.get("level") if kind == EventType.LOG else None
        if level == LOG_DETAIL and not self.detail:
            return
        if kind == EventType.LOG and event["stream"] in self.streams:
            if level == LOG_UPDATE and not self.timestamps:
                self._update(event["text"])
            else:
                self._log(event)
        elif kind == EventType.STATUS and not self.quiet:
            self._write(sys.stderr, f"jobs: status {event['status']}\n")
        elif kind == EventType.PROGRESS and not self.quiet:
            self._write(sys.stderr, f"jobs: progress {event['progress']:.0f}% {event.get('message', '')}".rstrip()
                        + "\n")
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
        self._write(sys.stdout, text.rstrip("\n") + "\n")

    def _update(self, text: str) -> None:
        if not text.strip():
            return
        line = f"[system] {text.strip().splitlines()[-1]}"
        if sys.stderr.isatty():
            sys.stderr.write("\r\x1b[K" + line)
            sys.stderr.flush()
            self.updating = True
        elif not self.updated:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
            self.updated = True

    def _write(self, out, text: str) -> None:
        """Write `text`; an update line still on the terminal is replaced by it."""
        if self.updating:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
        self.updating = self.updated = False
        out.write(text)
        out.flush()

    def _log(self, event: dict) -> None:
        text = event["text"]
        if event["stream"] == "system":
            text = "".join(f"[system] {line}\n" for line in text.splitlines())
        if self.timestamps:
            stamp = dt.datetime.fromtimestamp(event["t"]).isoformat(timespec="milliseconds")
            text = "".join(f"{stamp} {line}" for line in text.splitlines(keepends=True))
        self._write(sys.stdout if event["stream"] == "stdout" else sys.stderr, text)

