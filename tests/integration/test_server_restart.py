"""Kill -9 a real Jupyter server while its jobs run, start it again: nothing is lost.

A run whose runner still lives is re-attached and keeps streaming; one that finished while the server
was down gets its real final status and outputs; only a run with no trace left becomes LOST.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import kill_runner_and_job

from jupyter_jobs.remote import RemoteClient
from jupyter_jobs.service.schemas import SubmitRequest
from jupyter_jobs.spec.models import FileRef, JobSpec

TOKEN = "restart-test-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(root: Path, port: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0",
         "--allow-root"],
        stdout=open(log, "ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    client = RemoteClient(f"http://127.0.0.1:{port}", TOKEN)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            client.server_config()
            return proc
        except Exception:
            if proc.poll() is not None:
                raise AssertionError(f"server exited: {log.read_text()[-2000:]}") from None
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"server did not answer: {log.read_text()[-2000:]}")


@pytest.fixture
def server_config(jobs_data_dir):
    config_dir = Path(os.environ["JUPYTER_CONFIG_DIR"])
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "jupyter_server_config.json").write_text(json.dumps({
        "ServerApp": {"jpserver_extensions": {"jupyter_jobs": True}},
        "JobsSettings": {"local_cpus": 64},
    }))
    return config_dir


def wait_status(client: RemoteClient, run_id: str, wanted: set[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(run_id).status
        if status in wanted:
            return status
        time.sleep(0.1)
    raise AssertionError(f"{run_id} never reached {wanted}; last {status}")


def test_hard_restart_loses_nothing(server_config, tmp_path, jobs_data_dir):
    root = tmp_path / "project"
    root.mkdir()
    port = free_port()
    log = tmp_path / "server.log"
    server = start_server(root, port, log)
    client = RemoteClient(f"http://127.0.0.1:{port}", TOKEN)
    try:
        go = tmp_path / "go"  # the long run waits for this file: no race with a slow restart
        long = client.submit(SubmitRequest(spec=JobSpec(
            cmd=f"echo before; while [ ! -e {go} ]; do sleep 0.1; done; echo after; echo kept > result.txt",
            outputs=[FileRef(path="result.txt")]))).id
        short = client.submit(SubmitRequest(spec=JobSpec(cmd="sleep 1.5; echo finished-while-down"))).id
        doomed = client.submit(SubmitRequest(spec=JobSpec(cmd="sleep 30.5"))).id
        for run_id in (long, short, doomed):
            wait_status(client, run_id, {"RUNNING"})

        server.send_signal(signal.SIGKILL)  # no shutdown hooks run
        server.wait()
        # While the server is down: the short run ends, the doomed run's runner and job vanish.
        run_dir = jobs_data_dir / "runs" / doomed
        kill_runner_and_job(int((run_dir / "runner.pid").read_text()))
        deadline = time.monotonic() + 30
        while not (jobs_data_dir / "runs" / short / "result.json").exists():
            assert time.monotonic() < deadline, "the short run never finished"
            time.sleep(0.1)

        server = start_server(root, port, log)
        assert client.get(long).status == "RUNNING"  # re-attached, still going
        go.touch()
        events = list(client.follow(long))  # keeps streaming to the end
        text = "".join(e.get("text", "") for e in events if e["type"] == "log" and e["stream"] == "stdout")
        assert text == "before\nafter\n"
        assert events[-1]["type"] == "result" and events[-1]["status"] == "SUCCEEDED"
        assert client.get(long).status == "SUCCEEDED"
        report = client.download_outputs(client.get(long), tmp_path / "out")
        assert (tmp_path / "out" / "result.txt").read_text() == "kept\n" and not report.missing

        finished = client.get(short)
        assert finished.status == "SUCCEEDED" and finished.exit_code == 0
        assert "finished-while-down" in client.logs(short, "stdout")
        assert client.get(doomed).status == "LOST"
        assert sorted(r.id for r in client.list()) == sorted([long, short, doomed])  # nothing doubled
    finally:
        server.kill()
        server.wait()
