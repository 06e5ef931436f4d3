"""Kill -9 a real Jupyter server while its job runs on Ray, start it again: the run is re-attached,
finishes, and nothing is appended twice (the runner on the Ray node writes the run dir, not the server)."""

from __future__ import annotations

from helpers import JupyterServer, wait_for
from restarts import kill_restart_and_finish

from jupyter_jobs.service.schemas import SubmitRequest
from jupyter_jobs.spec.models import JobSpec


def test_server_kill_and_restart_while_a_ray_job_runs(ray_address, tmp_path, jobs_data_dir):
    settings = {"JobsSettings": {"executors": ["ray"]}, "RayExecutor": {"address": ray_address}}
    with JupyterServer(tmp_path, settings) as server:
        client = server.client
        go = tmp_path / "go"  # the job waits for this file: no race with a slow restart
        run_id = client.submit(SubmitRequest(spec=JobSpec(
            cmd=f"echo before; while [ ! -e {go} ]; do sleep 0.1; done; echo after",
            instance_types=["VM.Standard2.1"]))).id
        wait_for(lambda: client.get(run_id).status == "RUNNING", timeout=180, message="the Ray job running")
        assert client.get(run_id).executor == "ray"

        assert kill_restart_and_finish(server, run_id, go) == "before\nafter\n"
        assert [r.id for r in client.list()] == [run_id]
