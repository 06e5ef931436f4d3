"""Following a run inside a kernel: its output appears in the calling cell as the job produces it.

stdout/stderr go to the cell's streams, `display` events are re-published (display ids prefixed with
the run id), and one status line (a display handle updated in place) says queued (#position) /
preparing environment / running / elapsed / progress. Interrupting the cell cancels the job.
"""

from __future__ import annotations

import html
import queue
import sys
import threading
import time

from ..errors import JobsError
from ..runner.protocol import LOG_DETAIL, EventType, Status

_TICK = 1.0  # seconds between status-line refreshes while nothing happens
_KILL_HINT = "(interrupt again to kill it now)"
_HOLD = 0.1  # seconds finished lines wait for more text of their stream, to go out as one stream output
_HOLD_MAX = 0.5  # seconds text is held at most (text that keeps coming, a line not finished yet)


class JobFailed(JobsError):
    """A job ended without success. Shown as the remote traceback plus one line, not a local traceback."""

    def __init__(self, run_id: str, status: str, error: str | None = None, remote: dict | None = None):
        remote = remote or {}
        self.run_id, self.status, self.remote = run_id, status, remote
        self.ename = remote.get("ename")
        self.evalue = remote.get("evalue")
        self.remote_traceback = list(remote.get("traceback") or [])
        what = remote.get("summary") or (f"{self.ename}: {self.evalue}" if self.ename else error or status.lower())
        super().__init__(f"job {run_id} {status.lower()}: {what}")

    def _render_traceback_(self) -> list[str]:
        """IPython shows this instead of a local traceback (the magic's own frames are noise)."""
        tail = f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"
        return self.remote_traceback + [tail]


class JobCancelled(JobFailed):
    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[0;33m{type(self).__name__}\x1b[0m: {self}"]


def _ipython():
    from IPython.display import clear_output, display, publish_display_data

    return clear_output, display, publish_display_data


class StatusLine:
    """One line that is updated in place (an IPython display handle), as HTML and as readable text
    (`job ID SUCCEEDED in 7s (c1.4 on local)`) for viewers without HTML."""

    def __init__(self, run_id: str, label: str):
        _, display, _ = _ipython()
        self.run_id, self.label = run_id, label
        self.text = ""
        # A terminal IPython cannot update in place: there, print each new state once.
        self.in_place = _in_kernel()
        self.handle = display(self._bundle("submitted", ""), raw=True, display_id=True) if self.in_place else None

    def _bundle(self, state: str, detail: str) -> dict:
        colour = {"SUCCEEDED": "#2e7d32", "FAILED": "#c62828", "CANCELLED": "#ef6c00", "LOST": "#c62828"}.get(
            state.split()[0] if state else "", "#546e7a")
        label = f" {self.label}" if self.label else ""
        html_text = (f"<div style='font-family:var(--jp-code-font-family,monospace);font-size:90%;color:#546e7a'>"
                     f"job <code>{self.run_id}</code>{html.escape(label)} "
                     f"<b style='color:{colour}'>{html.escape(state)}</b>"
                     + (f" {html.escape(detail)}" if detail else "") + "</div>")
        return {"text/plain": f"job {self.run_id}{label} {state}" + (f" {detail}" if detail else ""),
                "text/html": html_text}

    def show(self, state: str, detail: str = "") -> None:
        text = f"{state}|{detail}"
        if text == self.text:
            return
        if not self.in_place:
            if state != self.text.split("|", 1)[0]:
                print(f"jobs: job {self.run_id} {state}" + (f" {detail}" if detail else ""), file=sys.stderr)
            self.text = text
            return
        self.text = text
        self.handle.update(self._bundle(state, detail), raw=True)

    def redisplay(self) -> None:
        """After a clear_output from the job: the old handle is gone with the cleared outputs."""
        if not self.in_place:
            return
        _, display, _ = _ipython()
        self.handle = display(self._bundle(*(self.text.split("|", 1) if self.text else ("", ""))), raw=True,
                              display_id=True)


def _in_kernel() -> bool:
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def _elapsed(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class StreamText:
    """The job's stdout/stderr text on its way to the cell's streams, held briefly so that one print (its
    text and its newline arrive apart) or a burst of lines becomes one stream output, not one per chunk."""

    def __init__(self):
        self.stream: str | None = None
        self.text = ""
        self.first = self.last = 0.0

    def add(self, stream: str, text: str, now: float) -> None:
        if self.text and stream != self.stream:
            self.flush()
        if not self.text:
            self.first = now
        self.stream, self.text, self.last = stream, self.text + text, now

    def due(self, now: float) -> float | None:
        """Seconds until the held text should go out (0: now); None when nothing is held."""
        if not self.text:
            return None
        limit = self.first + _HOLD_MAX
        if self.text.endswith("\n"):
            limit = min(limit, self.last + _HOLD)
        return max(0.0, limit - now)

    def flush(self) -> None:
        if self.text:
            out = sys.stdout if self.stream == "stdout" else sys.stderr
            out.write(self.text)
            out.flush()
        self.text = ""


class LiveRun:
    """Follows one run into the current cell; `wait()` returns the finished Run or raises."""

    def __init__(self, client, run, label: str = "", show_outputs: bool = True):
        self.client = client
        self.run = run
        self.run_id = run.id
        self.show_outputs = show_outputs
        self.status = run.status
        self.started_at = run.started_at
        self.created_at = run.created_at
        self.progress: str = ""
        self.phase = ""  # what the runner says it is doing while PREPARING
        self.error: dict | None = None  # the job's error frame
        self.line = StatusLine(run.id, label)
        self.events: queue.Queue = queue.Queue()
        self.seen_events = 0
        self.first_output_at: float | None = None
        self.streams = StreamText()

    # -- event pump (a thread: `follow` blocks, the status line must tick) --------------------------------
    def _pump(self) -> None:
        try:
            for event in self.client.follow(self.run_id, 0):
                self.events.put(event)
        except Exception as exc:  # the service went away: say so in the cell
            self.events.put({"type": "_error", "error": f"{type(exc).__name__}: {exc}"})
        finally:
            self.events.put(None)

    def wait(self):
        thread = threading.Thread(target=self._pump, name=f"jupyter-jobs-follow-{self.run_id}", daemon=True)
        thread.start()
        cancelled_at = None
        last_poll = 0.0
        while True:
            try:
                due = self.streams.due(time.time())
                try:
                    event = self.events.get(timeout=_TICK if due is None else min(_TICK, due))
                except queue.Empty:
                    event = ()
                if event is None:
                    break
                if event:
                    self.handle(event)
                now = time.time()
                if self.streams.due(now) == 0:
                    self.streams.flush()
                if self.status == Status.QUEUED and now - last_poll > _TICK:
                    last_poll = now
                    self._poll_queue()
                self._show(cancelling=cancelled_at is not None)
            except KeyboardInterrupt:
                if cancelled_at is None:
                    cancelled_at = time.time()
                    self.client.cancel(self.run_id, graceful=True)
                    self.line.show("cancelling", _KILL_HINT)
                else:
                    self.client.cancel(self.run_id, graceful=False)
                    self.line.show("killing")
        self.streams.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        run = self.client.get(self.run_id)
        self.run = run
        self._final(run)
        if run.status == Status.SUCCEEDED:
            return run
        if run.status == Status.CANCELLED:
            reason = "cancelled by an interrupt of this cell" if cancelled_at else (run.error or "cancelled")
            raise JobCancelled(run.id, run.status, reason)
        raise JobFailed(run.id, run.status, run.error, self.error)

    def _poll_queue(self) -> None:
        try:
            run = self.client.get(self.run_id)
        except Exception:
            return
        self.run = run
        if run.status != Status.QUEUED and self.status == Status.QUEUED:
            self.status = run.status

    # -- rendering ---------------------------------------------------------------------------------------
    def _show(self, cancelling: bool = False) -> None:
        now = time.time()
        if cancelling:
            self.line.show("cancelling", _KILL_HINT)
        elif self.status == Status.QUEUED:
            pos = getattr(self.run, "queue_position", None)
            self.line.show(f"queued #{pos}" if pos else "queued", f"(waiting {_elapsed(now - self.created_at)})")
        elif self.status == Status.PREPARING:
            self.line.show("preparing environment", f"· {self.phase}" if self.phase else "")
        elif self.status == Status.RUNNING:
            since = self.started_at or now
            self.line.show("running", " · ".join(x for x in (_elapsed(now - since), self.progress) if x))

    def _final(self, run) -> None:
        took = f"in {_elapsed(run.duration)} " if getattr(run, "duration", None) is not None else ""
        self.line.show(run.status, f"{took}({run.instance_type} on {run.executor})")

    def handle(self, event: dict) -> None:
        kind = event.get("type")
        self.seen_events += 1
        if kind == EventType.STATUS:
            self.status = event["status"]
            if event["status"] == Status.RUNNING:
                self.started_at = event.get("started_at", event.get("t"))
        elif kind == EventType.LOG:
            stream = event.get("stream")
            if stream == "system":
                if event.get("level") != LOG_DETAIL and event["text"].strip():  # uv's own lines are not news
                    self.phase = event["text"].strip().splitlines()[-1][:120]
            elif self.show_outputs:
                self._note_output()
                self.streams.add(stream, event["text"], time.time())
        elif kind == EventType.PROGRESS:
            self.progress = f"{event['progress']:.0f}% {event.get('message') or ''}".strip()
        elif kind == EventType.DISPLAY:
            self._display(event)
        elif kind == EventType.RESULT:
            self.status = event.get("status", self.status)
        elif kind == "_error":
            sys.stderr.write(f"jobs: lost track of job {self.run_id}: {event['error']}\n")

    def _note_output(self) -> None:
        if self.first_output_at is None:
            self.first_output_at = time.time()

    def _display(self, event: dict) -> None:
        msg_type = event.get("msg_type")
        if msg_type == "error":
            self.error = event
            return
        if not self.show_outputs:
            return
        clear_output, _, publish_display_data = _ipython()
        self.streams.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        self._note_output()
        if msg_type == "clear_output":
            clear_output(wait=bool(event.get("wait")))
            self.line.redisplay()
            return
        display_id = event.get("display_id")
        transient = {"display_id": f"{self.run_id}-{display_id}"} if display_id else None
        publish_display_data(event.get("data") or {}, event.get("metadata") or {}, transient=transient,
                             update=msg_type == "update_display_data")


def handle_display(run, note: str = "") -> dict:
    """What `--no-wait` shows: a small table (and the same as text), with how to follow the run."""
    status = run.status + (f" #{run.queue_position}" if run.queue_position else "")
    rows = [("job", f"<code>{run.id}</code>"), ("name", html.escape(run.name or "-")),
            ("status", html.escape(status)), ("instance", html.escape(f"{run.instance_type} on {run.executor}"))]
    cells = "".join(f"<tr><th style='text-align:left'>{k}</th><td style='text-align:left'>{v}</td></tr>"
                    for k, v in rows)
    hint = f"follow it with %job attach {run.id}, variables with %job result {run.id}{note}"
    html_hint = (f"<div style='font-size:85%;color:#546e7a'>follow it with <code>%job attach {run.id}</code>, "
                 f"variables with <code>%job result {run.id}</code>{html.escape(note)}</div>")
    return {"text/html": f"<table>{cells}</table>{html_hint}",
            "text/plain": f"job {run.id} {status} ({run.instance_type} on {run.executor}); {hint}"}
