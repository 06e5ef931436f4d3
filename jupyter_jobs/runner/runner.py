"""The runner: started inside the job's environment, it stages inputs, runs the command and records
everything in the run directory, so any later process can learn what happened.

Standard library only (it also runs inside containers and bare environments). Started detached, in
its own session: it outlives the process that submitted the job and the Jupyter server.
"""

from __future__ import annotations

import codecs
import contextlib
import fcntl
import json
import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
import traceback
from pathlib import Path

from ..pyenv.cache import DETAIL, PROGRESS, EnvBuildError, EnvCache
from . import layout, protocol
from .display import DisplayFrames, error_summary
from .protocol import MIN_SECRET_LENGTH, EventType, Plan, Status

_READ = 1 << 20
_PIPE_SIZE = 1 << 20  # a larger pipe lets a chatty job write on while we record the last chunk
_TICK = 0.2  # seconds between checks of cancel requests, timeouts and the progress file
_ORPHAN_GRACE = 2.0  # seconds we wait for a finished job's children to close its output pipes
_SUPERVISOR_GONE = "the engine process that started the runner ended: the job was stopped"


class Runner:
    def __init__(self, run_dir: Path, supervised: bool = False):
        self.dir = run_dir
        #: Started by an engine's process (Ray's job supervisor) that may be killed: we and the job end with it.
        self.supervised = supervised
        self.plan = Plan.from_dict(layout.read_json(run_dir / protocol.PLAN))
        self.events = layout.open_events(run_dir)  # the one copy of the logs: readers derive text from it
        self.cancel: dict | None = None  # set from cancel.json when we are signalled
        self.progress_offset = 0
        secrets = {n: os.environ[n] for n in self.plan.secret_names if os.environ.get(n)}
        #: Values too short to mask (stored before set refused them) would rewrite every match in all text.
        self.unmasked = sorted(n for n, value in secrets.items() if len(value) < MIN_SECRET_LENGTH)
        self.secrets = maskable(secrets.values())
        self.redactors = {s: Redactor(self.secrets) for s in ("stdout", "stderr")}
        # Display frames (rich outputs of cell/notebook jobs, in-band on stdout): see runner/display.py.
        self.frames = DisplayFrames()
        self.job_error: dict | None = None  # the last `error` frame: the job's own exception

    # -- recording --------------------------------------------------------------------------------
    def emit(self, kind: str, **fields) -> None:
        """Append an event, every text in it masked: logs, progress, display frames, errors."""
        self.events.write(layout.event_line(kind, **mask(fields, self.secrets)))
        self.events.flush()

    def log(self, stream: str, text: str) -> None:
        self.emit(EventType.LOG, stream=stream, text=text)

    def system(self, message: str, level: str | None = None) -> None:
        """A line of the system log; `level` DETAIL (the log's detail: a tool's own output) or UPDATE (a
        line the next one replaces), as protocol.LOG_LEVELS says."""
        fields = {"level": level} if level else {}
        self.emit(EventType.LOG, stream="system", text=message.rstrip("\n") + "\n", **fields)

    def build_log(self, line: str, level: str) -> None:
        """The environment build's lines (pyenv/cache.py): uv's own output is detail, its progress updates."""
        self.system(line, {DETAIL: protocol.LOG_DETAIL, PROGRESS: protocol.LOG_UPDATE}.get(level))

    # -- lifecycle --------------------------------------------------------------------------------
    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        # The pid file says "signals are handled now"; a cancel asked before that is read here.
        (self.dir / protocol.PID).write_text(str(os.getpid()))
        self.take_cancel()
        threading.Thread(target=self.watch, args=(os.getppid(),), daemon=True, name="watch").start()
        result: dict = {"status": Status.FAILED, "exit_code": None, "error": None}
        work = Path(self.plan.work_dir)
        try:
            self.emit(EventType.STATUS, status=Status.PREPARING)
            self.stage(work)
            env = self.environment()
            with contextlib.ExitStack() as stack:
                python = self.plan.python
                if python and self.cancel is None:
                    env = self.python_env(stack, python, work, env)
                if self.cancel is None:
                    self.emit(EventType.STATUS, status=Status.RUNNING, started_at=time.time())
                    result.update(self.execute(work, env))
            try:
                self.collect(work)
            except OSError as exc:  # the job ran; say that its outputs are what failed
                self.system(f"could not collect outputs: {exc}")
                result.update(status=Status.FAILED, error=f"could not collect outputs: {exc}")
        except EnvBuildError as exc:
            # The executor's hint says why the build may have failed there (e.g. no network).
            hint = (self.plan.python or {}).get("hint")
            message = f"environment build failed: {exc}" + (f"\n{hint}" if hint else "")
            self.system(message)
            result["error"] = message
        except Exception as exc:  # the runner must always leave a result behind
            self.system("runner error:\n" + traceback.format_exc())
            result["error"] = f"runner error: {exc}"
        # A job that got the cancel signal is CANCELLED even when its handler exits 0 (the usual way
        # to shut down gracefully); one that ended before the signal keeps its own status.
        # A timeout stops the job the same way but is a failure, reported as such by execute().
        cancelled = self.cancel is not None and not self.cancel.get("timeout")
        if cancelled and (self.cancel.get("signalled") or result["status"] != Status.SUCCEEDED):
            result["status"] = Status.CANCELLED
            result["error"] = self.cancel.get("reason") or "cancelled"
        result["finished_at"] = time.time()
        with contextlib.suppress(OSError):  # consumed into events, masked: the job's raw lines go
            os.unlink(self.dir / protocol.PROGRESS)
        layout.write_json(self.dir / protocol.RESULT, mask(result, self.secrets))
        self.emit(EventType.RESULT, **result)
        if not self.plan.keep_workdir:
            shutil.rmtree(work, ignore_errors=True)
        self.kick_queue()
        return 0

    def kick_queue(self) -> None:
        """Our slot is free: in the embedded mode, start a dispatcher if runs wait in the queue."""
        on_exit = self.plan.on_exit
        if not on_exit or not any(os.scandir(on_exit.queue_dir)):
            return
        subprocess.Popen(on_exit.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)

    def _on_signal(self, signum, frame) -> None:
        self.take_cancel(signalled=True)

    def take_cancel(self, signalled: bool = False) -> None:
        """Take a cancel request from cancel.json (or a signal that came without one, graceful). Asked
        twice (a signal and the file, or a repeated signal), the job still gets the graceful signal once;
        a hard cancel after a graceful one escalates to SIGKILL."""
        try:
            request = layout.read_json(self.dir / protocol.CANCEL)
        except (OSError, ValueError):  # not a regular file, or not JSON: a signal alone still counts
            request = None
        if request is None and not signalled:
            return
        graceful = bool((request or {}).get("graceful", True))
        if self.cancel is None or (self.cancel["graceful"] and not graceful):
            self.cancel = _cancel_request(graceful, (request or {}).get("reason"))

    def watch(self, parent: int) -> None:
        """While the runner lives: the heartbeat file (its time every HEARTBEAT_INTERVAL s, so a reader
        tells a silent runner from a dead one), cancel requests by file (an engine that cannot signal us,
        like Ray, only writes cancel.json) and, when supervised, the end of the process that started us."""
        beat = 0.0
        while True:
            now = time.time()
            if now - beat >= protocol.HEARTBEAT_INTERVAL:
                with contextlib.suppress(OSError):
                    layout.write_json(self.dir / protocol.HEARTBEAT, {"t": now, "pid": os.getpid()})
                beat = now
            self.take_cancel()
            if self.supervised and os.getppid() != parent and self.cancel is None:
                self.cancel = _cancel_request(False, _SUPERVISOR_GONE)  # the main loop kills the job
            time.sleep(_TICK)

    # -- before the command -------------------------------------------------------------------------
    def stage(self, work: Path) -> None:
        work.mkdir(parents=True, exist_ok=True)
        inputs = self.plan.inputs
        total = sum(item.size for item in inputs)
        for item in inputs:
            dest = work / item.dest
            dest.parent.mkdir(parents=True, exist_ok=True)
            if item.dir:
                dest.mkdir(exist_ok=True)
                continue
            shutil.copyfile(item.blob, dest)  # a copy: the job may write to its inputs
            os.chmod(dest, item.mode)
        for rel in self.plan.output_dirs:
            (work / rel).mkdir(parents=True, exist_ok=True)
        if inputs:
            self.system(f"staged {len(inputs)} input file{'s' if len(inputs) != 1 else ''} ({total} bytes)")

    def environment(self) -> dict[str, str]:
        env = dict(os.environ) if self.plan.inherit_env else {"PATH": os.defpath}
        env.pop("JUPYTER_JOBS_RUNNER", None)
        env["PYTHONUNBUFFERED"] = "1"  # so Python jobs stream as they print; the spec may override
        env.update(self.plan.env)
        env["JOB_PROGRESS_FILENAME"] = str(self.dir / protocol.PROGRESS)
        env["JOB_ID"] = self.plan.run_id
        for note in self.plan.notes:
            self.system(note)
        for name in self.unmasked:
            self.system(f"secret {name} is shorter than {MIN_SECRET_LENGTH} characters: it is not masked in "
                        f"this job's output (store a longer value: `jupyter jobs secrets set {name}`)")
        return env

    def python_env(self, stack: contextlib.ExitStack, python: dict, work: Path, env: dict) -> dict:
        """Build (once per lock, cached) or reuse the job's venv; the job sees only what the lock holds."""
        cache = EnvCache(Path(python["cache_root"]), python["uv"], python.get("max_bytes"))
        venv = stack.enter_context(cache.use(python["lock"], log=self.build_log, workdir=work))
        env = dict(env, VIRTUAL_ENV=str(venv), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', os.defpath)}")
        env.pop("PYTHONHOME", None)
        paths = [str(work / p) for p in python["lock"].get("python_paths", [])]
        env["PYTHONPATH"] = os.pathsep.join(paths)
        return env

    # -- the command ------------------------------------------------------------------------------
    def execute(self, work: Path, env: dict[str, str]) -> dict:
        guard = _GroupGuard() if self.supervised else None  # forked before the job exists
        proc = subprocess.Popen(
            [self.plan.shell, "-c", self.plan.cmd], cwd=work, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: signals reach the whole job
        )
        if guard:
            guard.arm(proc.pid)
        timeout = self.plan.timeout
        deadline = time.monotonic() + timeout if timeout else None
        selector = selectors.DefaultSelector()
        decoders = {}
        for stream, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr)):
            with contextlib.suppress(OSError, AttributeError):  # Linux only; the default size works too
                fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
            selector.register(pipe, selectors.EVENT_READ, stream)
            decoders[stream] = codecs.getincrementaldecoder("utf-8")("replace")
        exited_at = None
        timed_out = False
        while selector.get_map():
            for key, _ in selector.select(_TICK):
                data = os.read(key.fileobj.fileno(), _READ)
                text = decoders[key.data].decode(data, final=not data)
                text = self.redactors[key.data].feed(text, final=not data)
                self.output(key.data, text, final=not data)
                if not data:
                    selector.unregister(key.fileobj)
            self.read_progress()
            if deadline and not timed_out and time.monotonic() > deadline:
                timed_out = True
                self.system(f"timeout of {timeout:g}s reached: stopping the job")
                self.cancel = self.cancel or _cancel_request(True, None, timeout=True)
            self.enforce_cancel(proc)
            if exited_at is None and proc.poll() is not None:
                exited_at = time.monotonic()
            if exited_at and time.monotonic() - exited_at > _ORPHAN_GRACE:
                self.kill_group(proc, signal.SIGKILL)  # children still hold the pipes open
                break
        while proc.poll() is None:
            self.enforce_cancel(proc)
            time.sleep(0.05)
        self.read_progress()
        code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
        if timed_out:
            return {"status": Status.FAILED, "exit_code": code, "error": f"timed out after {timeout:g}s"}
        if code == 0:
            return {"status": Status.SUCCEEDED, "exit_code": 0}
        if self.job_error:  # the job reported its exception in an error frame: name it, not the exit code
            return {"status": Status.FAILED, "exit_code": code, "error": error_summary(self.job_error)}
        return {"status": Status.FAILED, "exit_code": code, "error": f"exit code {code}"}

    def output(self, stream: str, text: str, final: bool = False) -> None:
        """Log a chunk of the job's output; display frames in stdout become `display` events."""
        if stream != "stdout":
            if text:
                self.log(stream, text)
            return
        for kind, part in self.frames.feed(text, final):
            if kind == "text":
                self.log(stream, part)
            else:
                self.emit(EventType.DISPLAY, **part)
                if part["msg_type"] == "error":
                    self.job_error = part

    def enforce_cancel(self, proc: subprocess.Popen) -> None:
        """Graceful: the configured signal, then SIGKILL after the timeout. Otherwise SIGKILL now."""
        if self.cancel is None or proc.poll() is not None:
            return
        graceful = self.plan.graceful
        if not self.cancel["signalled"]:
            self.cancel["signalled"] = True
            if self.cancel["graceful"]:
                name = graceful.signal
                self.system(f"cancel requested: sending {name}, killing after {graceful.timeout:g}s")
                self.cancel["deadline"] = time.monotonic() + graceful.timeout
                self.kill_group(proc, getattr(signal, name))
            else:
                self.system("cancel requested: killing the job")
                self.kill_group(proc, signal.SIGKILL)
        elif self.cancel["deadline"] and time.monotonic() > self.cancel["deadline"]:
            self.system("graceful shutdown timed out: killing the job")
            self.cancel["deadline"] = None
            self.kill_group(proc, signal.SIGKILL)

    @staticmethod
    def kill_group(proc: subprocess.Popen, sig: int) -> None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass

    def read_progress(self) -> None:
        """`{"progress": N, "message": "..."}` lines the job appends to JOB_PROGRESS_FILENAME."""
        path = self.dir / protocol.PROGRESS
        try:
            with open(path, "rb") as fh:
                fh.seek(self.progress_offset)
                data = fh.read()
        except FileNotFoundError:
            return
        complete = data[: data.rfind(b"\n") + 1]
        self.progress_offset += len(complete)
        for line in complete.decode("utf-8", "replace").splitlines():
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                # rounded here, for every reader: 33.3, not 33.33333333333333
                self.emit(EventType.PROGRESS, progress=round(float(item["progress"]), 1),
                          message=str(item.get("message", "")))
            except (ValueError, KeyError, TypeError, OverflowError):  # not a number (nan, inf: not finite)
                self.system(f"ignored a progress line that is not {{\"progress\": N, ...}}: {line[:200]}")

    # -- after the command ------------------------------------------------------------------------
    def collect(self, work: Path) -> None:
        """Move declared outputs to outputs/ (same file system: no copy). The host lists what came out
        with its own walk (service/outputs.py): nothing the job could write is taken as the manifest."""
        out_root = self.dir / protocol.OUTPUTS
        for item in self.plan.outputs:
            src = work / item.src
            if not os.path.lexists(src):
                self.system(f"output {item.name} was not produced")
                continue
            dest = out_root / item.src
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)


class _GroupGuard:
    """A forked process, in a session of its own, that SIGKILLs the job's process group if the runner
    dies first: an engine that kills its job kills the runner's group (Ray: `kill -9 -PGID`), not the
    job's. Forked before the job starts and told its group through a pipe right after, so no moment
    exists where the job runs unguarded."""

    def __init__(self):
        read, self.write = os.pipe()
        if os.fork():
            os.close(read)
            return
        try:
            os.setsid()
            os.close(self.write)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, signal.SIG_IGN)
            runner = os.getppid()
            pgid = int(os.read(read, 32) or 0)  # nothing (EOF): the runner ended before the job began
            while pgid:
                os.killpg(pgid, 0)  # ProcessLookupError once the job's group has ended: nothing to guard
                if os.getppid() != runner:
                    os.killpg(pgid, signal.SIGKILL)
                    break
                time.sleep(0.5)
        except (OSError, ValueError):
            pass
        finally:
            os._exit(0)

    def arm(self, pgid: int) -> None:
        os.write(self.write, str(pgid).encode())
        os.close(self.write)


def _cancel_request(graceful: bool, reason: str | None, timeout: bool = False) -> dict:
    """A pending stop: `enforce_cancel` signals the job and tracks the graceful deadline in it."""
    return {"graceful": graceful, "reason": reason, "timeout": timeout, "signalled": False, "deadline": None}


def maskable(values) -> list[str]:
    """The secret values worth masking, longest first (so a value inside another is not cut in two)."""
    return sorted({v for v in values if len(v) >= MIN_SECRET_LENGTH}, key=len, reverse=True)


def mask(value, secrets: list[str]):
    """`value` (text, or JSON-like lists and dicts of it) with every secret replaced by ****."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "****")
        return value
    if isinstance(value, dict):
        return {mask(k, secrets): mask(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(v, secrets) for v in value]
    return value


class Redactor:
    """Masks secret values in a stream, also when a value is split across two reads."""

    def __init__(self, secrets: list[str]):
        self.secrets = secrets  # maskable(), longest first
        self.held = ""

    def feed(self, text: str, final: bool = False) -> str:
        if not self.secrets:
            return text
        text = mask(self.held + text, self.secrets)
        self.held = ""
        if not final:  # hold back a tail that could be the start of a secret
            for secret in self.secrets:
                for cut in range(min(len(secret) - 1, len(text)), 0, -1):
                    if secret.startswith(text[-cut:]):
                        self.held = max(self.held, text[-cut:], key=len)
                        break
            if self.held:
                text = text[: -len(self.held)]
        return text
