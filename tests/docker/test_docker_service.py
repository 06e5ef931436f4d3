"""The docker executor under a real JobsService: limits, cancel, restart, GPUs, bad images."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from docker_runs import containers_of, submit, wait_output, wait_status

from jupyter_jobs.executors.docker import BLOBS, ENVS, RUN, UV, DockerExecutor
from jupyter_jobs.settings import JobsSettings


def test_paths_map_to_the_container_mounts(tmp_path):
    executor = DockerExecutor(parent=JobsSettings(data_dir=str(tmp_path)))
    assert executor.map_path(tmp_path / "runs" / "abc" / "work" / "x.txt") == f"{RUN}/work/x.txt"
    assert executor.map_path(tmp_path / "blobs" / "ab" / "abcdef") == f"{BLOBS}/ab/abcdef"
    assert executor.map_path(tmp_path / "envs") == ENVS
    assert executor.map_path(Path("/opt/somewhere/bin/uv")) == UV
    assert executor.map_path(Path("/elsewhere/file")) == "/elsewhere/file"


def read_cgroup_limits(text: str) -> tuple[float, int]:
    """(cpus, memory bytes) from `cat` of the v2 files or the v1 ones, as printed by the job below."""
    values = dict(line.split("=", 1) for line in text.split() if "=" in line)
    if values.get("cpu.max"):
        quota, period = values["cpu.max"].split(",")
        return int(quota) / int(period), int(values["memory.max"])
    return int(values["quota"]) / int(values["period"]), int(values["limit"])


def test_cpu_and_memory_limits_come_from_the_instance_type(make_service, tmp_path):
    types = tmp_path / "types.yaml"
    types.write_text("tiny: {cpus: 0.5, memory_gb: 0.25}\n")
    service = make_service(settings={"instance_types_file": str(types)})
    cmd = ("if [ -f /sys/fs/cgroup/cpu.max ]; then "
           "echo cpu.max=$(tr ' ' , < /sys/fs/cgroup/cpu.max) memory.max=$(cat /sys/fs/cgroup/memory.max); "
           "else echo quota=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) "
           "period=$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us) "
           "limit=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes); fi")
    run_id = submit(service, cmd, instance_types=["tiny"])
    run = wait_status(service, run_id, "SUCCEEDED")
    assert run.executor == "docker"
    cpus, memory = read_cgroup_limits(service.logs(run_id, "stdout"))
    assert cpus == 0.5
    assert abs(memory - 250_000_000) < 4096  # 0.25 GB, rounded to a page by the kernel


def test_graceful_cancel_delivers_the_configured_signal(make_service, docker_client):
    service = make_service()
    cmd = ("trap 'echo got USR1; sleep 0.2; echo cleaned; exit 0' USR1; echo ready; "
           "for i in $(seq 300); do sleep 0.1; done")
    run_id = submit(service, cmd, graceful_shutdown={"signal": "SIGUSR1", "timeout_s": 20})
    wait_status(service, run_id, "RUNNING")
    wait_output(service, run_id, "ready")
    started = time.monotonic()
    service.cancel(run_id, graceful=True, reason="stopped by the test")
    run = wait_status(service, run_id, "CANCELLED", timeout=30)
    assert time.monotonic() - started < 10  # the signal reached the job, not the kill timeout
    out = service.logs(run_id, "stdout")
    assert "got USR1" in out and "cleaned" in out
    assert "sending SIGUSR1" in service.logs(run_id, "system")
    assert run.error == "stopped by the test"
    deadline = time.monotonic() + 10
    while containers_of(docker_client, run_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert containers_of(docker_client, run_id) == []


def test_server_restart_reattaches_the_running_container(make_service, docker_client):
    first = make_service()
    run_id = submit(first, "echo started; sleep 3; echo finished")
    wait_status(first, run_id, "RUNNING")
    wait_output(first, run_id, "started")
    first.engine.dispose()
    del first  # the "server" goes away; the container does not

    second = make_service()
    counts = second.reconcile()
    assert counts.get("RUNNING") == 1
    assert second.get(run_id).status == "RUNNING"
    assert [c.status for c in containers_of(docker_client, run_id)] == ["running"]
    run = wait_status(second, run_id, "SUCCEEDED", timeout=30)
    assert run.exit_code == 0
    assert "finished" in second.logs(run_id, "stdout")


def test_container_gone_without_result_is_lost(make_service, docker_client):
    service = make_service()
    run_id = submit(service, "sleep 30")
    wait_status(service, run_id, "RUNNING")
    containers_of(docker_client, run_id)[0].kill(signal="SIGKILL")  # the whole container dies
    run = wait_status(service, run_id, "LOST", timeout=20)
    assert "without a result" in run.error


def test_gpu_request_on_a_host_without_gpu_runtime(make_service, docker_client):
    """A declared GPU id on this GPU-less host: the request reaches Docker and fails at container start."""
    service = make_service(gpus=["0"])
    run_id = submit(service, "nvidia-smi", instance_types=["g1.1"])
    run = wait_status(service, run_id, "FAILED")
    assert run.error == "instance g1.1 needs 1 GPU; this Docker host has no GPU runtime " \
                        "(install the NVIDIA container toolkit there, or remove the ids from c.DockerExecutor.gpus)"
    assert "Traceback" not in run.error
    assert containers_of(docker_client, run_id) == []  # the half-created container was removed
    # Its GPU slot is free again: the next GPU run is not stuck behind a phantom reservation.
    again = submit(service, "nvidia-smi", instance_types=["g1.1"])
    assert wait_status(service, again, "FAILED").error.startswith("instance g1.1 needs 1 GPU")


def test_gpu_types_are_refused_when_no_gpus_are_declared(make_service):
    from jupyter_jobs.errors import JobsError

    service = make_service()
    with pytest.raises(JobsError, match="g1.1: needs 1 GPU"):
        submit(service, "true", instance_types=["g1.1"])


def test_bad_image_is_a_clear_error_and_the_password_stays_secret(make_service, docker_client):
    service = make_service()
    service.secrets.set("REGISTRY_PASSWORD", "s3cr3t-value")
    run_id = submit(service, "true", env={"docker": {"image": "jupyter-jobs-no-such-image:1",
                                                     "username": "robot",
                                                     "password_secret": "REGISTRY_PASSWORD"}})
    run = wait_status(service, run_id, "FAILED")
    assert run.error.startswith("image 'jupyter-jobs-no-such-image:1' is not on this Docker host and could "
                                "not be pulled: ")
    assert "s3cr3t-value" not in run.error
    assert "s3cr3t-value" not in (Path(service.run_dir(run_id)) / "plan.json").read_text()
    assert containers_of(docker_client, run_id) == []


def test_keep_failed_keeps_only_failed_containers(make_service, docker_client):
    service = make_service(keep_failed=True)
    bad = submit(service, "exit 4")
    assert wait_status(service, bad, "FAILED").exit_code == 4
    good = submit(service, "true")
    wait_status(service, good, "SUCCEEDED")
    deadline = time.monotonic() + 10
    while containers_of(docker_client, good)[0].status != "exited" and time.monotonic() < deadline:
        time.sleep(0.05)
    # The next start sweeps ended containers: the succeeded one goes, the failed one stays.
    third = submit(service, "true")
    wait_status(service, third, "SUCCEEDED")
    assert containers_of(docker_client, good) == []
    kept = containers_of(docker_client, bad)
    assert len(kept) == 1 and kept[0].status == "exited"


def test_project_disk_and_datasets_are_mounted_read_only(make_service, tmp_path):
    project = tmp_path / "project"
    (project / "misc").mkdir(parents=True)
    (project / "misc" / "norm.txt").write_text("normaliser\n")
    cifar = tmp_path / "cifar"
    cifar.mkdir()
    (cifar / "val.json").write_text("[1, 2]\n")
    service = make_service()
    service.settings.project_dir = str(project)
    service.settings.datasets = {"bt1cifar": str(cifar)}
    cmd = ('cat "${DS_PROJECT_HOME}/misc/norm.txt" ${CIFAR}/val.json; '
           'for d in "$DS_PROJECT_HOME" ${CIFAR}; do '
           'if touch "$d/new.txt" 2>/dev/null; then echo writable; else echo read-only; fi; done')
    run_id = submit(service, cmd, flags=["attach-project-disk"], datasets=[{"id": "bt1cifar", "var": "CIFAR"}])
    run = wait_status(service, run_id, "SUCCEEDED")
    assert service.logs(run_id, "stdout") == "normaliser\n[1, 2]\nread-only\nread-only\n"
    assert not (project / "new.txt").exists() and not (cifar / "new.txt").exists()
    assert any("mounted read-only" in note for note in run.notes) or "mounted read-only" in service.logs(
        run_id, "system")
