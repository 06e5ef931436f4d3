"""The Ray executor's relay transport (`c.RayExecutor.transport = "relay"`) on a real Ray head: the
runner keeps its run dir in a node-local folder (`node_dir`, not the data dir; `path_map` points at a
folder that does not exist, and is not used), and events, outputs and result come back through the
Ray job's log, each applied once, also across a server killed with kill -9."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import JupyterServer, wait_for
from restarts import kill_restart_and_finish

from jupyter_jobs.executors import ray_relay
from jupyter_jobs.runner import protocol
from jupyter_jobs.service.schemas import SubmitRequest
from jupyter_jobs.spec.models import JobSpec

CLI = [sys.executable, "-m", "jupyter_jobs.cli"]


def relay_settings(ray_address: str, node_dir: Path, data_dir: Path) -> dict:
    return {"JobsSettings": {"executors": ["ray"]},
            "RayExecutor": {"address": ray_address, "transport": "relay", "node_dir": str(node_dir),
                            "path_map": {str(data_dir): "/nonexistent/shared-disk"}}}


@pytest.fixture
def node_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ray-node") / "runs"


def jobs(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def relayed_events(ray_address: str, run_id: str) -> list[tuple[int, str]]:
    """(offset, line) of every event record in the Ray job's log."""
    from ray.job_submission import JobSubmissionClient

    log = JobSubmissionClient(ray_address).get_job_logs(run_id)
    return [(r["event"], r["line"]) for r in ray_relay.records(log, 0) if "event" in r]


def host_lines(run_dir: Path) -> list[str]:
    """events.jsonl's lines the runner wrote (the host's own pre-start system lines left out)."""
    lines = (run_dir / protocol.EVENTS).read_text().splitlines(keepends=True)
    return [line for line in lines if "Ray job" not in json.loads(line).get("text", "")]


def test_a_config_job_comes_back_through_the_log(ray_address, jobs_data_dir, node_dir, tmp_path):
    settings = relay_settings(ray_address, node_dir, jobs_data_dir)
    config_dir = Path(os.environ["JUPYTER_CONFIG_DIR"])
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "jupyter_jobs_config.json").write_text(json.dumps(settings))
    (tmp_path / "main.py").write_text(textwrap.dedent("""\
        import json, os, sys
        print("run dir", os.path.dirname(os.getcwd()), flush=True)
        for step in range(3):
            print("step", step, flush=True)
            with open(os.environ["JOB_PROGRESS_FILENAME"], "a") as fh:
                fh.write(json.dumps({"progress": 100 * (step + 1) / 3, "message": f"step {step + 1}"}) + "\\n")
        os.makedirs("data", exist_ok=True)
        open("data/model.bin", "wb").write(bytes(range(256)) * 1000)
        print("a warning", file=sys.stderr)
        sys.exit(int(sys.argv[1]))
        """))
    (tmp_path / "config.yaml").write_text(textwrap.dedent("""\
        name: relayed
        cmd: python3 main.py ${CODE}
        inputs:
          - main.py
        outputs:
          - data/model.bin: MODEL
        args:
          CODE: "0"
        cloud-instance-type: c1.4
        """))

    done = jobs("execute", "-c", "config.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run = json.loads(jobs("list", "--format", "json", cwd=tmp_path).stdout)[0]
    assert (run["executor"], run["status"], run["exit_code"]) == ("ray", "SUCCEEDED", 0)
    assert (run["progress"], run["progress_message"]) == (100.0, "step 3")
    assert "step 0\nstep 1\nstep 2\n" in done.stdout and "a warning" in done.stderr
    assert f"run dir {node_dir / run['id']}\n" in done.stdout  # the node's folder, not the data dir
    assert (tmp_path / "data" / "model.bin").read_bytes() == bytes(range(256)) * 1000
    run_dir = jobs_data_dir / "runs" / run["id"]
    assert not (node_dir / run["id"]).exists()  # removed by the runner once relayed
    assert not (jobs_data_dir / ray_relay.STAGING / run["id"]).exists()  # uploaded to Ray, then removed
    relayed = relayed_events(ray_address, run["id"])
    assert host_lines(run_dir) == [line for _, line in relayed]
    assert json.loads((run_dir / protocol.RELAY_STATE).read_text())["offset"] == sum(
        len(line.encode()) for _, line in relayed)

    (tmp_path / "config.yaml").write_text((tmp_path / "config.yaml").read_text().replace('"0"', '"7"'))
    failed = jobs("execute", "-c", "config.yaml", cwd=tmp_path)
    assert failed.returncode != 0
    run = json.loads(jobs("list", "--format", "json", cwd=tmp_path).stdout)[0]
    assert (run["status"], run["exit_code"]) == ("FAILED", 7)


def test_a_server_killed_mid_run_appends_nothing_twice(ray_address, jobs_data_dir, node_dir, tmp_path):
    go = tmp_path / "go"  # the job waits for this file: no race with a slow restart
    with JupyterServer(tmp_path, relay_settings(ray_address, node_dir, jobs_data_dir)) as server:
        client = server.client
        run_id = client.submit(SubmitRequest(spec=JobSpec(
            cmd=f"for i in 1 2 3; do echo before $i; done; while [ ! -e {go} ]; do sleep 0.1; done; echo after",
            instance_types=["VM.Standard2.1"]))).id
        wait_for(lambda: "before 3" in client.logs(run_id, "stdout"), timeout=180, message="the job's first lines")

        assert kill_restart_and_finish(server, run_id, go) == "before 1\nbefore 2\nbefore 3\nafter\n"

    relayed = relayed_events(ray_address, run_id)
    offsets = [offset for offset, _ in relayed]
    assert offsets == sorted(set(offsets))  # each line of the node's events.jsonl sent once, in order
    assert host_lines(jobs_data_dir / "runs" / run_id) == [line for _, line in relayed]  # each applied once


def test_a_batch_cut_short_is_applied_again_once(ray_address, jobs_data_dir, node_dir, tmp_path):
    """What a kill -9 between appending a batch and recording it leaves: applied again, nothing doubled.
    (The job also gets a secret, through the uploaded working_dir, never in what Ray shows.)"""
    with JupyterServer(tmp_path, relay_settings(ray_address, node_dir, jobs_data_dir)) as server:
        server.client.set_secret("API_TOKEN", "tok-123456789")
        run_id = server.client.submit(SubmitRequest(spec=JobSpec(
            cmd="test ${#API_TOKEN} = 13; for i in $(seq 20); do echo line $i $API_TOKEN; done",
            instance_types=["VM.Standard2.1"]))).id
        assert list(server.client.follow(run_id))[-1]["status"] == "SUCCEEDED"
        assert server.client.logs(run_id, "stdout").splitlines()[-1] == "line 20 ****"
    from ray.job_submission import JobSubmissionClient

    ray_client = JobSubmissionClient(ray_address)
    log = ray_client.get_job_logs(run_id)
    assert "tok-123456789" not in log and "tok-123456789" not in repr(ray_client.get_job_info(run_id))
    done = jobs_data_dir / "runs" / run_id
    whole = (done / protocol.EVENTS).read_bytes()

    cut = tmp_path / "cut"
    shutil.copytree(done, cut)
    batch = ray_relay.records(log, 0)
    half = len(batch) // 2
    events_before = sum(len(r["line"].encode()) for r in batch[:half] if "event" in r)
    start = len(whole) - sum(len(line.encode()) for _, line in relayed_events(ray_address, run_id))
    (cut / protocol.EVENTS).write_bytes(whole)  # the whole batch appended, then killed before the record
    (cut / protocol.RELAY_STATE).write_text(json.dumps({"n": half, "offset": events_before,
                                                         "pending": start + events_before}))
    ray_relay.apply_log(cut, log)
    assert (cut / protocol.EVENTS).read_bytes() == whole
    ray_relay.apply_log(cut, log)  # read again: nothing new
    assert (cut / protocol.EVENTS).read_bytes() == whole
    assert json.loads((cut / protocol.RELAY_STATE).read_text()) == json.loads((done / protocol.RELAY_STATE).read_text())
