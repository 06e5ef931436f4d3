"""Injected executor faults end in a clear final status, free their capacity, and never lose other runs."""

from __future__ import annotations

import time

from faulty_executor import FaultyExecutor

from jupyter_jobs.executors.local import LocalExecutor
from jupyter_jobs.service.schemas import SubmitRequest
from jupyter_jobs.service.service import JobsService
from jupyter_jobs.settings import JobsSettings
from jupyter_jobs.spec.models import FileRef, JobSpec


def service_with(data_dir, fail_at: str, embedded: bool = True) -> JobsService:
    settings = JobsSettings(data_dir=str(data_dir))
    return JobsService(settings, executors=[FaultyExecutor(fail_at), LocalExecutor(cpus=64)], embedded=embedded)


def wait(service: JobsService, run_id: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = service.get(run_id)
        if run.finished:
            return run
        time.sleep(0.05)
    raise AssertionError(f"{run_id} still {run.status}")


def test_start_failure_fails_the_run_with_the_reason(jobs_data_dir):
    service = service_with(jobs_data_dir, "start")
    run = service.submit(SubmitRequest(spec=JobSpec(cmd="echo never")))
    assert run.status == "FAILED"
    assert "could not start the runner" in run.error
    # its capacity was never held: the next run on a healthy executor runs normally
    ok = service.submit(SubmitRequest(spec=JobSpec(cmd="echo fine"), executor="local"))
    assert wait(service, ok.id).status == "SUCCEEDED"


def test_runner_dying_mid_run_is_lost_not_hanging(jobs_data_dir):
    service = service_with(jobs_data_dir, "mid-run")
    run = service.submit(SubmitRequest(spec=JobSpec(cmd="echo started; sleep 20")))
    final = wait(service, run.id)
    assert final.status == "LOST"
    assert "vanished" in final.error
    assert "started" in service.logs(run.id, "stdout")


def test_output_copy_failure_keeps_the_exit_code_and_says_why(jobs_data_dir):
    service = service_with(jobs_data_dir, "output-copy")
    run = service.submit(SubmitRequest(spec=JobSpec(cmd="echo data > out.txt", outputs=[FileRef(path="out.txt")])))
    final = wait(service, run.id)
    assert final.status == "FAILED"
    assert final.exit_code == 0
    assert "could not collect outputs" in final.error
    assert "could not collect outputs" in service.logs(run.id, "system")


def test_a_slow_start_does_not_hold_up_other_runs_in_a_server(jobs_data_dir):
    """As a server dispatches: one run's start hangs (a long image pull); a later run still starts and
    ends, and the held one starts once its executor is ready."""
    service = service_with(jobs_data_dir, "held-start", embedded=False)
    held = service.submit(SubmitRequest(spec=JobSpec(cmd="echo held")))
    other = service.submit(SubmitRequest(spec=JobSpec(cmd="echo other"), executor="local"))
    assert service.scheduler.dispatch() == [held.id, other.id]  # returns while the first start hangs
    assert wait(service, other.id).status == "SUCCEEDED"
    assert service.get(held.id).status == "PREPARING"
    service.executors["faulty"].release.set()
    assert wait(service, held.id).status == "SUCCEEDED"
    assert service.logs(held.id, "stdout") == "held\n"
    service.close()
