"""What only the Slurm executor has, on a real cluster: adopting a job whose start was cut short, an
unreachable controller (unknown, never LOST), jobs Slurm ended without the runner's result (the state
said clearly), GRES and partitions from the instance type, the shared file system's path map."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers import wait_for

from jupyter_jobs.errors import SubmitError
from jupyter_jobs.executors import Launch, Liveness
from jupyter_jobs.service.schemas import Origin, SubmitRequest
from jupyter_jobs.spec.models import JobSpec


def submit(service, cmd: str, **spec) -> str:
    spec.setdefault("instance_types", ["VM.Standard2.1"])
    return service.submit(SubmitRequest(spec=JobSpec(cmd=cmd, **spec), origin=Origin(user="tester"))).id


def wait_until(service, run_id: str, condition, timeout: float = 120):
    return wait_for(lambda: condition(run := service.get(run_id)) and run, timeout=timeout,
                    message=f"run {run_id}: {condition.__doc__ or 'condition'}", interval=0.2)


def finished(run):
    """finished"""
    return run.finished


def jobs_named(run_id: str) -> list[str]:
    return subprocess.run(["squeue", "-h", "-t", "all", f"--name={run_id}", "-o", "%i"], capture_output=True,
                          text=True, check=True).stdout.split()


def test_a_start_cut_short_adopts_the_job_it_submitted(make_service):
    service = make_service()
    run_id = submit(service, "sleep 30")
    job = jobs_named(run_id)
    assert len(job) == 1
    # The run started again (as after its first start's process died before it stored the handle).
    again = service.executors["slurm"].start(service.run_dir(run_id), {}, Launch(run_id=run_id, instance="?"))
    assert again == {"job_id": job[0]}
    assert jobs_named(run_id) == job  # nothing submitted twice
    service.cancel(run_id, graceful=False)
    assert wait_until(service, run_id, finished).status == "CANCELLED"


def test_an_unreachable_controller_is_unknown_never_lost(make_service, tmp_path, monkeypatch, slurm_cluster):
    service = make_service()
    run_id = submit(service, "echo up; sleep 20; echo down")
    wait_for(lambda: "up" in service.logs(run_id, "stdout"), timeout=60, message="the job starting")
    [job] = jobs_named(run_id)
    elsewhere = tmp_path / "slurm.conf"  # the same cluster, its controller at a port nothing listens on
    elsewhere.write_text(Path(slurm_cluster).read_text().replace("SlurmctldPort=", "SlurmctldPort=1").replace(
        "AccountingStoragePort=", "AccountingStoragePort=1"))
    monkeypatch.setenv("SLURM_CONF", str(elsewhere))
    cut_off = make_service(command_timeout=3)
    assert cut_off.executors["slurm"].liveness({"job_id": job}, cut_off.run_dir(run_id)) is Liveness.UNKNOWN
    assert cut_off.get(run_id).status == "RUNNING"  # not LOST: nobody could say it was gone
    monkeypatch.setenv("SLURM_CONF", slurm_cluster)
    run = wait_until(make_service(), run_id, finished)
    assert (run.status, service.logs(run_id, "stdout")) == ("SUCCEEDED", "up\ndown\n")


def test_a_runner_killed_under_slurm_ends_failed_with_slurms_account(make_service):
    service = make_service()
    run_id = submit(service, "kill -9 $PPID; sleep 30")  # the job kills its runner: nobody writes a result
    run = wait_until(service, run_id, finished)
    assert run.status == "FAILED" and run.exit_code == 137
    assert "the runner ended without a result" in run.error and "FAILED, exit code 0:9" in run.error
    assert run.error in service.logs(run_id, "system")


@pytest.mark.slow
def test_slurms_time_limit_is_said_clearly(make_service):
    """A job past Slurm's time limit that ignores SIGTERM is killed with its runner: Slurm's TIMEOUT."""
    service = make_service(instance_map={"VM.Standard2.1": {"sbatch_args": ["--time=1"]}})
    run_id = submit(service, "trap '' TERM; echo started; sleep 600",
                    graceful_shutdown={"signal": "SIGTERM", "timeout_s": 600})
    run = wait_until(service, run_id, finished, timeout=240)
    assert run.status == "FAILED"
    assert run.error.startswith("Slurm stopped the job at its time limit"), run.error


def test_a_job_cancelled_before_slurm_started_it(make_service):
    service = make_service(instance_map={"VM.Standard2.1": {"sbatch_args": ["--begin=now+1hour"]}})
    service.secrets.set("API_TOKEN", "never-used-token")
    run_id = submit(service, "echo never")
    secrets_file = service.run_dir(run_id) / ".secrets.json"
    assert secrets_file.stat().st_mode & 0o777 == 0o600  # for the runner, which never starts
    [job] = jobs_named(run_id)
    assert subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True).stdout == "PENDING\n"
    service.cancel(run_id, graceful=True, reason="not needed")
    run = wait_until(service, run_id, finished)
    assert (run.status, run.error) == ("CANCELLED", "not needed")
    assert service.logs(run_id, "stdout") == ""
    assert not secrets_file.exists()


def test_gpu_and_partition_requests_slurm_cannot_serve_are_refused(make_service):
    service = make_service(instance_map={"c1.4": {"partition": "gpu-nodes"}, "c1.8": {"gres": "gpu:2"},
                                         "VM.Standard2.1": {"sbatch_args": ["--gres=gpu:1"]}})
    with pytest.raises(SubmitError, match="partition 'gpu-nodes' does not exist"):
        submit(service, "true", instance_types=["c1.4"])
    with pytest.raises(SubmitError, match=r"needs 2 GPUs .* refuse --gres=gpu:2"):
        submit(service, "true", instance_types=["c1.8"])
    with pytest.raises(SubmitError, match=r"g2.1: needs 1 GPU \(A100\)"):
        submit(service, "nvidia-smi", instance_types=["g2.1"])
    # What only sbatch can tell (a GRES added by the operator's arguments) fails the run, said plainly.
    run = wait_until(service, submit(service, "true"), finished)
    assert run.status == "FAILED"
    assert run.error.startswith("Slurm refused --gres=gpu:1: no node of the partition has such GPUs"), run.error


def test_the_nodes_see_the_data_dir_through_the_path_map(make_service, jobs_data_dir, tmp_path):
    """The nodes mount the shared file system elsewhere (here: a link to the data dir)."""
    mount = tmp_path / "shared-fs"
    mount.symlink_to(jobs_data_dir, target_is_directory=True)
    service = make_service(path_map={str(jobs_data_dir): str(mount)})
    run_id = submit(service, 'echo "out=${OUT} progress=$JOB_PROGRESS_FILENAME"; echo hi > ${OUT}',
                    outputs=[{"path": "out.txt", "var": "OUT"}])
    run = wait_until(service, run_id, finished)
    assert run.status == "SUCCEEDED", run.error
    assert service.logs(run_id, "stdout") == (f"out={mount}/runs/{run_id}/work/out.txt "
                                              f"progress={mount}/runs/{run_id}/progress.jsonl\n")
    assert (service.outputs_dir(run_id) / "out.txt").read_text() == "hi\n"
