"""Kill -9 a real Jupyter server while its jobs run, start it again: nothing is lost.

A run whose runner still lives is re-attached and keeps streaming; one that finished while the server
was down gets its real final status and outputs; only a run with no trace left becomes LOST.
"""

from __future__ import annotations

import time

from helpers import JupyterServer, kill_runner_and_job

from jupyter_jobs.remote import RemoteClient
from jupyter_jobs.service.schemas import SubmitRequest
from jupyter_jobs.spec.models import FileRef, JobSpec


def wait_status(client: RemoteClient, run_id: str, wanted: set[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(run_id).status
        if status in wanted:
            return status
        time.sleep(0.1)
    raise AssertionError(f"{run_id} never reached {wanted}; last {status}")


def test_hard_restart_loses_nothing(tmp_path, jobs_data_dir):
    with JupyterServer(tmp_path, {"JobsSettings": {"local_cpus": 64}}) as server:
        client = server.client
        go = tmp_path / "go"  # the long run waits for this file: no race with a slow restart
        long = client.submit(SubmitRequest(spec=JobSpec(
            cmd=f"echo before; while [ ! -e {go} ]; do sleep 0.1; done; echo after; echo kept > result.txt",
            outputs=[FileRef(path="result.txt")]))).id
        short = client.submit(SubmitRequest(spec=JobSpec(cmd="sleep 1.5; echo finished-while-down"))).id
        doomed = client.submit(SubmitRequest(spec=JobSpec(cmd="sleep 30.5"))).id
        for run_id in (long, short, doomed):
            wait_status(client, run_id, {"RUNNING"})

        server.kill_hard()
        # While the server is down: the short run ends, the doomed run's runner and job vanish.
        run_dir = jobs_data_dir / "runs" / doomed
        kill_runner_and_job(int((run_dir / "runner.pid").read_text()))
        deadline = time.monotonic() + 30
        while not (jobs_data_dir / "runs" / short / "result.json").exists():
            assert time.monotonic() < deadline, "the short run never finished"
            time.sleep(0.1)

        server.start()
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
