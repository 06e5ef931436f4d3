"""Kill -9 a real Jupyter server while its job runs on Ray, start it again: the run is re-attached,
finishes, and nothing is appended twice (the runner on the Ray node writes the run dir, not the server)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from helpers import wait_for
from integration.test_server_restart import TOKEN, free_port, start_server

from jupyter_jobs.remote import RemoteClient
from jupyter_jobs.service.schemas import SubmitRequest
from jupyter_jobs.spec.models import JobSpec


def test_server_kill_and_restart_while_a_ray_job_runs(ray_address, tmp_path, jobs_data_dir):
    config_dir = Path(os.environ["JUPYTER_CONFIG_DIR"])
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "jupyter_server_config.json").write_text(json.dumps({
        "ServerApp": {"jpserver_extensions": {"jupyter_jobs": True}},
        "JobsSettings": {"executors": ["ray"]}, "RayExecutor": {"address": ray_address}}))
    root = tmp_path / "project"
    root.mkdir()
    port = free_port()
    log = tmp_path / "server.log"
    server = start_server(root, port, log)
    client = RemoteClient(f"http://127.0.0.1:{port}", TOKEN)
    try:
        go = tmp_path / "go"  # the job waits for this file: no race with a slow restart
        run_id = client.submit(SubmitRequest(spec=JobSpec(
            cmd=f"echo before; while [ ! -e {go} ]; do sleep 0.1; done; echo after",
            instance_types=["VM.Standard2.1"]))).id
        wait_for(lambda: client.get(run_id).status == "RUNNING", timeout=180, message="the Ray job running")
        assert client.get(run_id).executor == "ray"

        server.send_signal(signal.SIGKILL)  # no shutdown hooks run
        server.wait()
        server = start_server(root, port, log)
        assert client.get(run_id).status == "RUNNING"  # re-attached through Ray's job info
        go.touch()
        events = list(client.follow(run_id))
        text = "".join(e.get("text", "") for e in events if e["type"] == "log" and e["stream"] == "stdout")
        assert text == "before\nafter\n"
        assert [e["type"] for e in events].count("result") == 1 and events[-1]["status"] == "SUCCEEDED"
        statuses = [e["status"] for e in events if e["type"] == "status"]
        assert statuses == ["PREPARING", "RUNNING"]  # nothing appended twice
        assert [r.id for r in client.list()] == [run_id]
    finally:
        server.kill()
        server.wait()
