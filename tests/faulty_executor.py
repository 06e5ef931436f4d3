"""Fault injection: a local executor that fails at a chosen point (the only fake in the test suite)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from jupyter_jobs.errors import ExecutorError
from jupyter_jobs.executors.local import LocalExecutor
from jupyter_jobs.runner import protocol


class FaultyExecutor(LocalExecutor):
    """`fail_at`: "start" (the executor cannot start the runner), "mid-run" (the runner and its job die
    once running), "output-copy" (the outputs folder cannot be written when the job ends), or
    "held-start" (starting takes until `release` is set, like a long image pull)."""

    name = "faulty"

    def __init__(self, fail_at: str):
        super().__init__(gpus=[], cpus=64)
        self.fail_at = fail_at
        self.release = threading.Event()

    def prepare(self, run_dir: Path, launch) -> None:
        if self.fail_at == "held-start":  # before any runner exists, as an image pull is
            self.release.wait(60)

    def start(self, run_dir: Path, env: dict[str, str], launch=None) -> dict:
        if self.fail_at == "start":
            raise ExecutorError("injected fault: the executor could not start the runner")
        if self.fail_at == "output-copy":
            (run_dir / protocol.OUTPUTS).write_text("a file where the outputs folder should be")
        handle = super().start(run_dir, env, launch)
        if self.fail_at == "mid-run":
            threading.Thread(target=self._kill_when_running, args=(run_dir, handle["pid"]), daemon=True).start()
        return handle

    @staticmethod
    def _kill_when_running(run_dir: Path, runner_pid: int) -> None:
        """Kill once the job has started and its first stdout line reached the events log, so the
        test can check that what was logged before the death is kept."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and b'"stream": "stdout"' not in _read(run_dir / protocol.EVENTS):
            time.sleep(0.02)
        children = Path(f"/proc/{runner_pid}/task/{runner_pid}/children")
        job_pids = [int(p) for p in children.read_text().split()] if children.exists() else []
        os.kill(runner_pid, signal.SIGKILL)
        for pid in job_pids:
            os.killpg(pid, signal.SIGKILL)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""
