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
import sys
import time
import traceback
from pathlib import Path

from ..pyenv.cache import EnvBuildError, EnvCache
from . import layout
from .display import DisplayFrames, error_summary

_READ = 1 << 20
_PIPE_SIZE = 1 << 20  # a larger pipe lets a chatty job write on while we record the last chunk
_TICK = 0.2  # seconds between checks of cancel requests, timeouts and the progress file
_ORPHAN_GRACE = 2.0  # seconds we wait for a finished job's children to close its output pipes


class Runner:
    def __init__(self, run_dir: Path):
        self.dir = run_dir
        self.plan = layout.read_json(run_dir / layout.PLAN)
        self.events = open(run_dir / layout.EVENTS, "a", encoding="utf-8")
        self.logs = {s: open(run_dir / layout.log_file(s), "ab") for s in layout.STREAMS}
        self.cancel: dict | None = None  # set from cancel.json when we are signalled
        self.progress_offset = 0
        secrets = [os.environ[n] for n in self.plan.get("secret_names", []) if os.environ.get(n)]
        self.redactors = {s: Redactor(secrets) for s in ("stdout", "stderr")}
        # Display frames (rich outputs of cell/notebook jobs, in-band on stdout): see runner/display.py.
        self.frames = DisplayFrames()
        self.job_error: dict | None = None  # the last `error` frame: the job's own exception

    # -- recording --------------------------------------------------------------------------------
    def emit(self, kind: str, **fields) -> None:
        self.events.write(layout.event_line(kind, **fields))
        self.events.flush()

    def log(self, stream: str, text: str) -> None:
        self.logs[stream].write(text.encode("utf-8", "replace"))
        self.logs[stream].flush()
        self.emit("log", stream=stream, text=text)

    def system(self, message: str) -> None:
        self.log("system", message.rstrip("\n") + "\n")

    # -- lifecycle --------------------------------------------------------------------------------
    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        # The pid file says "signals are handled now"; a cancel asked before that is read here.
        (self.dir / layout.PID).write_text(str(os.getpid()))
        if (self.dir / layout.CANCEL).exists():
            self._on_signal(signal.SIGTERM, None)
        result: dict = {"status": "FAILED", "exit_code": None, "error": None, "outputs": []}
        work = Path(self.plan["work_dir"])
        try:
            self.emit("status", status="PREPARING")
            self.stage(work)
            env = self.environment()
            with contextlib.ExitStack() as stack:
                python = self.plan.get("python")
                if python and self.cancel is None:
                    env = self.python_env(stack, python, work, env)
                if self.cancel is None:
                    self.emit("status", status="RUNNING", started_at=time.time())
                    result.update(self.execute(work, env))
            try:
                result["outputs"] = self.collect(work)
            except OSError as exc:  # the job ran; say that its outputs are what failed
                self.system(f"could not collect outputs: {exc}")
                result.update(status="FAILED", error=f"could not collect outputs: {exc}")
        except EnvBuildError as exc:
            # The executor's hint says why the build may have failed there (e.g. no network).
            hint = (self.plan.get("python") or {}).get("hint")
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
        if cancelled and (self.cancel.get("signalled") or result["status"] != "SUCCEEDED"):
            result["status"] = "CANCELLED"
            result["error"] = self.cancel.get("reason") or "cancelled"
        result["finished_at"] = time.time()
        layout.write_json(self.dir / layout.RESULT, result)
        self.emit("result", **{k: v for k, v in result.items() if k != "outputs"})
        if not self.plan.get("keep_workdir"):
            shutil.rmtree(work, ignore_errors=True)
        self.kick_queue()
        return 0

    def kick_queue(self) -> None:
        """Our slot is free: in the embedded mode, start a dispatcher if runs wait in the queue."""
        on_exit = self.plan.get("on_exit")
        if not on_exit or not any(os.scandir(on_exit["queue_dir"])):
            return
        subprocess.Popen(on_exit["argv"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)

    def _on_signal(self, signum, frame) -> None:
        request = layout.read_json(self.dir / layout.CANCEL) or {}
        self.cancel = _cancel_request(bool(request.get("graceful", True)), request.get("reason"))

    # -- before the command -------------------------------------------------------------------------
    def stage(self, work: Path) -> None:
        work.mkdir(parents=True, exist_ok=True)
        inputs = self.plan.get("inputs", [])
        total = sum(item.get("size", 0) for item in inputs)
        for item in inputs:
            dest = work / item["dest"]
            dest.parent.mkdir(parents=True, exist_ok=True)
            if item.get("dir"):
                dest.mkdir(exist_ok=True)
                continue
            shutil.copyfile(item["blob"], dest)  # a copy: the job may write to its inputs
            os.chmod(dest, item.get("mode", 0o644))
        for rel in self.plan.get("output_dirs", []):
            (work / rel).mkdir(parents=True, exist_ok=True)
        if inputs:
            self.system(f"staged {len(inputs)} input files ({total} bytes)")

    def environment(self) -> dict[str, str]:
        env = dict(os.environ) if self.plan.get("inherit_env", True) else {"PATH": os.defpath}
        env.pop("JUPYTER_JOBS_RUNNER", None)
        env["PYTHONUNBUFFERED"] = "1"  # so Python jobs stream as they print; the spec may override
        env.update(self.plan.get("env", {}))
        env["JOB_PROGRESS_FILENAME"] = str(self.dir / layout.PROGRESS)
        env["JOB_ID"] = self.plan["run_id"]
        for note in self.plan.get("notes", []):
            self.system(note)
        return env

    def python_env(self, stack: contextlib.ExitStack, python: dict, work: Path, env: dict) -> dict:
        """Build (once per lock, cached) or reuse the job's venv; the job sees only what the lock holds."""
        cache = EnvCache(Path(python["cache_root"]), python["uv"], python.get("max_bytes"))
        venv = stack.enter_context(cache.use(python["lock"], log=self.system, workdir=work))
        env = dict(env, VIRTUAL_ENV=str(venv), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', os.defpath)}")
        env.pop("PYTHONHOME", None)
        paths = [str(work / p) for p in python["lock"].get("python_paths", [])]
        env["PYTHONPATH"] = os.pathsep.join(paths)
        return env

    # -- the command ------------------------------------------------------------------------------
    def execute(self, work: Path, env: dict[str, str]) -> dict:
        proc = subprocess.Popen(
            [self.plan.get("shell", "/bin/bash"), "-c", self.plan["cmd"]], cwd=work, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: signals reach the whole job
        )
        timeout = self.plan.get("timeout")
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
            return {"status": "FAILED", "exit_code": code, "error": f"timed out after {timeout:g}s"}
        if code == 0:
            return {"status": "SUCCEEDED", "exit_code": 0}
        if self.job_error:  # the job reported its exception in an error frame: name it, not the exit code
            return {"status": "FAILED", "exit_code": code, "error": error_summary(self.job_error)}
        return {"status": "FAILED", "exit_code": code, "error": f"exit code {code}"}

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
                self.emit("display", **part)
                if part["msg_type"] == "error":
                    self.job_error = part

    def enforce_cancel(self, proc: subprocess.Popen) -> None:
        """Graceful: the configured signal, then SIGKILL after the timeout. Otherwise SIGKILL now."""
        if self.cancel is None or proc.poll() is not None:
            return
        graceful = self.plan.get("graceful", {})
        if not self.cancel["signalled"]:
            self.cancel["signalled"] = True
            if self.cancel["graceful"]:
                name = graceful.get("signal", "SIGTERM")
                self.system(f"cancel requested: sending {name}, "
                            f"killing after {graceful.get('timeout', 10):g}s")
                self.cancel["deadline"] = time.monotonic() + graceful.get("timeout", 10)
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
        path = self.dir / layout.PROGRESS
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
                self.emit("progress", progress=float(item["progress"]), message=str(item.get("message", "")))
            except (ValueError, KeyError, TypeError):
                self.system(f"ignored a progress line that is not {{\"progress\": N, ...}}: {line[:200]}")

    # -- after the command ------------------------------------------------------------------------
    def collect(self, work: Path) -> list[dict]:
        """Move declared outputs to outputs/ (same file system: no copy) and list what came out."""
        out_root = self.dir / layout.OUTPUTS
        manifest = []
        for item in self.plan.get("outputs", []):
            src = work / item["src"]
            entry = {"name": item["name"], "src": item["src"], "missing": not src.exists(), "files": []}
            if entry["missing"]:
                self.system(f"output {item['name']} was not produced")
            else:
                dest = out_root / item["src"]
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dest)
                files = [dest] if dest.is_file() else sorted(p for p in dest.rglob("*") if p.is_file())
                entry["files"] = [{"path": str(p.relative_to(out_root)), "size": p.stat().st_size}
                                  for p in files]
                entry["is_dir"] = dest.is_dir()
            manifest.append(entry)
        return manifest


def _cancel_request(graceful: bool, reason: str | None, timeout: bool = False) -> dict:
    """A pending stop: `enforce_cancel` signals the job and tracks the graceful deadline in it."""
    return {"graceful": graceful, "reason": reason, "timeout": timeout, "signalled": False, "deadline": None}


class Redactor:
    """Replaces secret values in a stream with ****, also when a value is split across two reads."""

    def __init__(self, secrets: list[str]):
        self.secrets = sorted(set(secrets), key=len, reverse=True)
        self.held = ""

    def feed(self, text: str, final: bool = False) -> str:
        if not self.secrets:
            return text
        text = self.held + text
        for secret in self.secrets:
            text = text.replace(secret, "****")
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m jupyter_jobs.runner RUN_DIR", file=sys.stderr)
        return 2
    return Runner(Path(argv[0])).run()
