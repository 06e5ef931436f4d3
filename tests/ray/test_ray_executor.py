"""What is particular to the Ray executor, against a real Ray head: submission ids, resources, secrets,
an unreachable or forgetful head, a job Ray has not started, the runner dying with its supervisor."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import close_services, free_port, process_ended, submit, wait_for, wait_output, wait_status
from traitlets.config import Config

from jupyter_jobs.errors import ExecutorError
from jupyter_jobs.executors import Launch, Liveness, make_executor
from jupyter_jobs.executors.shared_fs import SECRETS_FILE
from jupyter_jobs.runner import layout, protocol
from jupyter_jobs.service.service import JobsService
from jupyter_jobs.settings import JobsSettings


@pytest.fixture
def make_service(ray_address, jobs_data_dir, tmp_path):
    types = tmp_path / "types.yaml"
    types.write_text("one: {cpus: 1, memory_gb: 0.5}\n")
    services = []

    def make(**ray_options) -> JobsService:
        config = Config({"RayExecutor": {"address": ray_address, **ray_options}})
        service = JobsService(JobsSettings(data_dir=str(jobs_data_dir), executors=["ray"], config=config,
                                           instance_types_file=str(types)))
        services.append(service)
        return service

    yield make
    close_services(services)


def plan_run(data_dir: Path, run_id: str, cmd: str) -> Path:
    """A run dir with a plan, for starting the executor directly (as the service would)."""
    run_dir = data_dir / "runs" / run_id
    run_dir.mkdir(parents=True)
    plan = protocol.Plan(run_id=run_id, cmd=cmd, work_dir=str(run_dir / protocol.WORK))
    layout.write_json(run_dir / protocol.PLAN, plan.to_dict())
    return run_dir


def test_run_id_is_the_submission_id_with_the_instance_resources(make_service, ray_client):
    """The job holds the instance type's CPUs and memory as Ray entrypoint resources (seen from inside,
    as what the cluster has minus what is free: nothing else runs on the test head)."""
    service = make_service()
    # Ray's view of available resources lags a moment behind a job's start: ask until it shows the hold.
    script = ("import ray, time; ray.init()\n"
              "for _ in range(200):\n"
              "    total, free = ray.cluster_resources(), ray.available_resources()\n"
              "    held = (total['CPU'] - free.get('CPU', 0), total['memory'] - free.get('memory', 0))\n"
              "    if held[0]: break\n"
              "    time.sleep(0.05)\n"
              "print('held', *held)")
    run_id = submit(service, f"{sys.executable} -c \"{script}\"", instance_types=["one"])
    run = wait_status(service, run_id, "SUCCEEDED", timeout=300)
    assert ray_client.get_job_info(run_id).submission_id == run_id and run.exit_code == 0
    assert "held 1.0 500000000.0" in service.logs(run_id, "stdout"), service.logs(run_id, "stderr")
    address = service.executors["ray"].address
    assert service.logs(run_id, "system").startswith(
        f"submitted to the Ray cluster at {address} as Ray job {run_id}: waiting for the Ray cluster")


def test_a_repeated_start_adopts_the_submitted_job(ray_address, jobs_data_dir, ray_client):
    executor = make_executor("ray", JobsSettings(data_dir=str(jobs_data_dir),
                                                 config=Config({"RayExecutor": {"address": ray_address}})))
    run_dir = plan_run(jobs_data_dir, "adopt-" + os.urandom(4).hex(), "echo once")
    launch = Launch(run_id=run_dir.name, instance="one", resources={"cpus": 1})
    first = executor.start(run_dir, {}, launch)
    again = executor.start(run_dir, {}, launch)  # a start cut short and retried: HTTP 500 "already exists"
    assert first == again
    wait_for(lambda: (run_dir / protocol.RESULT).exists(), timeout=120, message="the job ending")
    assert [j.submission_id for j in ray_client.list_jobs()].count(run_dir.name) == 1
    events = (run_dir / protocol.EVENTS).read_text()
    assert events.count('"RUNNING"') == 1 and events.count("echo once") == 0 and events.count("once\\n") == 1
    assert "submitted already (by a start cut short): adopted it" in events


def test_secrets_reach_the_job_but_not_ray(make_service, ray_client, jobs_data_dir):
    service = make_service()
    service.secrets.set("API_TOKEN", "tok-123456789")
    run_id = submit(service, "echo token=$API_TOKEN; test ${#API_TOKEN} = 13")
    wait_status(service, run_id, "SUCCEEDED")
    assert service.logs(run_id, "stdout") == "token=****\n"
    info = ray_client.get_job_info(run_id)
    assert "tok-123456789" not in repr(info) and "tok-123456789" not in ray_client.get_job_logs(run_id)
    assert not (service.run_dir(run_id) / SECRETS_FILE).exists()


def test_an_unreachable_head_is_unknown_never_lost(make_service):
    service = make_service()
    run_id = submit(service, "echo started; sleep 6; echo finished")
    wait_output(service, run_id, "started")
    cut_off = make_service(address=f"http://127.0.0.1:{free_port()}")  # a head that does not answer
    handle = {"submission_id": run_id}
    assert cut_off.executors["ray"].liveness(handle, cut_off.run_dir(run_id)) is Liveness.UNKNOWN
    assert cut_off.get(run_id).status == "RUNNING"
    run = wait_status(cut_off, run_id, "SUCCEEDED")  # its result comes through the shared run dir
    assert run.exit_code == 0 and cut_off.logs(run_id, "stdout") == "started\nfinished\n"


def test_a_job_the_head_forgot_is_gone_unless_its_runner_beats(ray_address, jobs_data_dir):
    executor = make_executor("ray", JobsSettings(data_dir=str(jobs_data_dir),
                                                 config=Config({"RayExecutor": {"address": ray_address}})))
    run_dir = plan_run(jobs_data_dir, "forgotten", "true")
    handle = {"submission_id": "never-submitted-" + os.urandom(4).hex()}
    assert executor.liveness(handle, run_dir) is Liveness.GONE  # a head restart forgets its jobs (404)
    layout.write_json(run_dir / protocol.HEARTBEAT, {"t": time.time(), "pid": 1})
    assert executor.liveness(handle, run_dir) is Liveness.ALIVE  # still running on a surviving node


def test_cancel_of_a_job_ray_has_not_started(ray_address, jobs_data_dir, ray_client):
    executor = make_executor("ray", JobsSettings(data_dir=str(jobs_data_dir),
                                                 config=Config({"RayExecutor": {"address": ray_address}})))
    tag = os.urandom(4).hex()
    busy = plan_run(jobs_data_dir, f"busy-{tag}", "sleep 600")
    executor.start(busy, {}, Launch(run_id=busy.name, instance="all", resources={"cpus": executor.cpus}))
    wait_for(lambda: ray_client.get_job_info(busy.name).status == "RUNNING", timeout=120, message="busy job")
    waiting = plan_run(jobs_data_dir, f"waiting-{tag}", "echo never")
    handle = executor.start(waiting, {}, Launch(run_id=waiting.name, instance="one", resources={"cpus": 1}))
    assert ray_client.get_job_info(waiting.name).status == "PENDING"  # the cluster is full
    assert executor.liveness(handle, waiting) is Liveness.ALIVE
    layout.write_json(waiting / protocol.CANCEL, {"graceful": True, "reason": "changed my mind"})
    assert executor.signal_cancel(handle, waiting)
    result = layout.read_json(waiting / protocol.RESULT)
    assert (result["status"], result["error"]) == ("CANCELLED", "changed my mind")
    ray_client.stop_job(busy.name)  # room again: Ray now runs the stop it was asked for
    wait_for(lambda: ray_client.get_job_info(waiting.name).status.is_terminal(), timeout=120,
             message="the cancelled job ending in Ray")
    assert "never" not in (waiting / protocol.EVENTS).read_text()
    assert layout.read_json(waiting / protocol.RESULT)["status"] == "CANCELLED"


def test_the_job_dies_with_its_ray_supervisor(make_service):
    service = make_service()
    run_id = submit(service, "echo $$ > job.pid; echo ready; sleep 600")
    wait_output(service, run_id, "ready")
    run_dir = service.run_dir(run_id)
    runner = int((run_dir / protocol.PID).read_text())
    job = int((run_dir / protocol.WORK / "job.pid").read_text())
    supervisor = int(Path(f"/proc/{runner}/stat").read_text().rsplit(")", 1)[1].split()[1])
    assert "JobSupervisor" in Path(f"/proc/{supervisor}/cmdline").read_text()
    os.kill(supervisor, signal.SIGKILL)  # Ray's job supervisor dies (a node failure, an OOM kill)
    wait_for(lambda: process_ended(job), timeout=30, message="the job ending")
    wait_for(lambda: service.get(run_id).finished, timeout=60, message="the run ending")
    assert service.get(run_id).status in ("CANCELLED", "LOST", "FAILED")


def test_a_job_can_use_the_cluster_itself(make_service):
    service = make_service()
    script = ("import ray; ray.init(); "
              "square = ray.remote(lambda x: x * x); "
              "print('sum', sum(ray.get([square.remote(i) for i in range(10)])))")
    # The driver holds its instance type's CPUs: a small type leaves the cluster's others to its tasks.
    run_id = submit(service, f"{sys.executable} -c \"{script}\"", instance_types=["one"])
    run = wait_status(service, run_id, "SUCCEEDED", timeout=300)
    assert "sum 285" in service.logs(run_id, "stdout"), service.logs(run_id, "stderr")
    assert run.exit_code == 0


def test_instance_types_show_what_ray_serves(on_ray, tmp_path):
    out = subprocess.run([sys.executable, "-m", "jupyter_jobs.cli", "instance-types", "--executor", "ray"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines() if line.strip()}
    assert lines["c1.4"].endswith(" yes"), out.stdout
    assert "no: needs 1 GPU (A100); the Ray cluster at" in lines["g2.1"], out.stdout


def test_the_cluster_token_comes_from_the_secrets(make_service):
    service = make_service(token_secret="RAY_TOKEN")
    with pytest.raises(ExecutorError, match="token_secret names the secret 'RAY_TOKEN', which does not exist"):
        submit(service, "true", instance_types=["one"])
    service.secrets.set("RAY_TOKEN", "cluster-token-123")
    with_token = make_service(token_secret="RAY_TOKEN")
    assert with_token.executors["ray"].client._headers["Authorization"] == "Bearer cluster-token-123"
    run = wait_status(with_token, submit(with_token, "true", instance_types=["one"]), "SUCCEEDED")
    assert run.exit_code == 0


def test_a_node_without_the_python_fails_the_run_with_rays_reason(make_service):
    service = make_service(python="no-such-python3")
    run_id = submit(service, "true", instance_types=["one"])
    run = wait_status(service, run_id, "FAILED")
    assert run.error.startswith(f"the Ray job ended without the runner's result (Ray job {run_id}: FAILED")
    assert run.exit_code == 127  # the shell's "command not found"
    assert f"see `ray job logs {run_id}`" in service.logs(run_id, "system")
