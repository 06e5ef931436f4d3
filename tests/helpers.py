"""Helpers the test modules import (tests/ is on pytest's pythonpath)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jupyter_jobs.remote import RemoteClient


def parameters_notebook(path: Path, parameters: str, *cells: str) -> Path:
    """A python3 notebook at `path`: a cell tagged `parameters` with `parameters`, then code `cells`."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    tagged = nbformat.v4.new_code_cell(parameters)
    tagged.metadata["tags"] = ["parameters"]
    nb.cells = [tagged, *(nbformat.v4.new_code_cell(source) for source in cells)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def require_in_ci(reason: str) -> None:
    """Skip outside CI; under CI=true a missing required service is a failure, not a skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def wait_for(condition, timeout: float = 30, message: str = "condition", interval: float = 0.05):
    """Poll `condition()` until it returns something true (returned), failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{message} did not happen within {timeout:g}s"
        time.sleep(interval)
    return value


def job_children(runner_pid: int) -> list[int]:
    """The processes the runner started (its job, in a session of its own), from /proc."""
    try:
        return [int(p) for p in Path(f"/proc/{runner_pid}/task/{runner_pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def kill_runner_and_job(runner_pid: int) -> None:
    """SIGKILL a runner and its job's process group, by pid (never by name: other jobs may match)."""
    jobs = wait_for(lambda: job_children(runner_pid), message=f"runner {runner_pid} starting its job")
    os.kill(runner_pid, signal.SIGKILL)
    for pid in jobs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def require_slurm() -> str:
    """The SLURM_CONF of a Slurm cluster whose controller answers (scripts/slurm.sh start), else skip
    (a failure under CI=true)."""
    start = 'eval "$(bash scripts/slurm.sh start)"'
    conf = os.environ.get("SLURM_CONF")
    if not conf:
        require_in_ci(f"SLURM_CONF is not set ({start})")
    try:
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        require_in_ci(f"Slurm's commands are not installed ({start})")
    if ping.returncode or "UP" not in ping.stdout:
        require_in_ci(f"the Slurm controller of {conf} does not answer: {ping.stdout}{ping.stderr}")
    return conf


def cancel_slurm_jobs_of(data_dir: Path) -> None:
    """scancel the Slurm jobs a test left behind: those named after a run of its data dir."""
    runs = {p.name for p in (data_dir / "runs").iterdir()} if (data_dir / "runs").is_dir() else set()
    listed = subprocess.run(["squeue", "-h", "--me", "-o", "%i|%j"], capture_output=True, text=True).stdout
    left = [job for job, name in (line.split("|") for line in listed.split()) if name in runs]
    if left:
        subprocess.run(["scancel", *left], capture_output=True)


def submit(service, cmd: str, **spec) -> str:
    """Submit `cmd` (and JobSpec fields) to a JobsService as user "tester"; the run id."""
    from jupyter_jobs.service.schemas import Origin, SubmitRequest
    from jupyter_jobs.spec.models import JobSpec

    return service.submit(SubmitRequest(spec=JobSpec(cmd=cmd, **spec), origin=Origin(user="tester"))).id


def wait_status(service, run_id: str, *statuses: str, timeout: float = 180):
    """The run once it is in one of `statuses`; fails at once if it ends in another."""
    def reached():
        run = service.get(run_id)
        assert run.status in statuses or not run.finished, \
            f"{run_id} ended {run.status} ({run.error}), wanted {statuses}:\n{service.logs(run_id, 'system')}"
        return run if run.status in statuses else None

    return wait_for(reached, timeout=timeout, message=f"run {run_id} reaching {statuses}", interval=0.1)


def wait_output(service, run_id: str, text: str, stream: str = "stdout", timeout: float = 60) -> str:
    """The run's `stream` log once `text` is in it."""
    return wait_for(lambda: text in service.logs(run_id, stream) and service.logs(run_id, stream),
                    timeout=timeout, message=f"{text!r} in {run_id}'s {stream}", interval=0.1)


def wait_finished(service, run_id: str, timeout: float = 60):
    """Poll a JobsService until the run has finished (a deadline, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = service.get(run_id)
        if run.finished:
            return run
        time.sleep(0.05)
    raise AssertionError(f"{run_id} still {run.status}")


def close_services(services) -> None:
    """End a test's JobsServices: nothing of the test may outlive it (unfinished runs are killed)."""
    for service in services:
        for run in service.list(limit=100):
            if not run.finished:
                service.cancel(run.id, graceful=False, reason="test ended")
        service.close()


def process_ended(pid: int) -> bool:
    """Whether the process is gone (or a zombie: ended, not yet reaped by its parent)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def free_port() -> int:
    """A TCP port nothing listens on (bound and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterServer:
    """A real Jupyter server with the jobs extension, in a process of its own on a fixed port, so that a
    test can kill it -9 and start it again at the same address (`client` keeps working across restarts).

    `settings` (e.g. {"JobsSettings": {...}, "RayExecutor": {...}}) go to this test's
    jupyter_server_config.json (JUPYTER_CONFIG_DIR is per test); the server's root is `tmp_path/project`.
    """

    TOKEN = "restart-test-token"

    def __init__(self, tmp_path: Path, settings: dict):
        config_dir = Path(os.environ["JUPYTER_CONFIG_DIR"])
        config_dir.mkdir(parents=True, exist_ok=True)
        (config_dir / "jupyter_server_config.json").write_text(json.dumps({
            "ServerApp": {"jpserver_extensions": {"jupyter_jobs": True}}, **settings}))
        self.root = tmp_path / "project"
        self.root.mkdir()
        self.port = free_port()
        self.log = tmp_path / "server.log"
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = RemoteClient(self.url, self.TOKEN)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        """Start the server and wait until it answers."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={self.port}", "--ip=127.0.0.1",
             f"--IdentityProvider.token={self.TOKEN}", f"--ServerApp.root_dir={self.root}",
             "--ServerApp.port_retries=0", "--allow-root"],
            stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        probe = RemoteClient(self.url, self.TOKEN)  # a new one: a client keeps the config it has read

        def answers() -> bool:
            try:
                probe.server_config()
                return True
            except Exception:  # noqa: BLE001 - not listening yet
                assert self.proc.poll() is None, "the server exited"
                return False

        try:
            wait_for(answers, timeout=60, message="the server answering", interval=0.2)
        except AssertionError as exc:
            self.stop()
            raise AssertionError(f"{exc}; its log ends:\n{self.log.read_text()[-2000:]}") from None

    def kill_hard(self) -> None:
        """SIGKILL: no shutdown hook runs."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> JupyterServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
