"""Injected executor faults end in a clear final status, free their capacity, and never lose other runs."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from faulty_executor import FaultyExecutor
from helpers import wait_finished as wait

from jupyter_jobs.executors.local import LocalExecutor
from jupyter_jobs.service.schemas import SubmitRequest
from jupyter_jobs.service.service import JobsService
from jupyter_jobs.settings import JobsSettings
from jupyter_jobs.spec.models import FileRef, JobSpec


def service_with(data_dir, fail_at: str, embedded: bool = True) -> JobsService:
    settings = JobsSettings(data_dir=str(data_dir))
    return JobsService(settings, executors=[FaultyExecutor(fail_at), LocalExecutor(cpus=64)], embedded=embedded)


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


CLAIMER = """
import sys
sys.path.insert(0, sys.argv[2])
from faulty_executor import FaultyExecutor
from jupyter_jobs.service.schemas import SubmitRequest
from jupyter_jobs.service.service import JobsService
from jupyter_jobs.settings import JobsSettings
from jupyter_jobs.spec.models import JobSpec

service = JobsService(JobsSettings(data_dir=sys.argv[1]), executors=[FaultyExecutor("held-start")])
service.submit(SubmitRequest(spec=JobSpec(cmd="echo again")))  # embedded: claims, then hangs starting
"""


@pytest.mark.parametrize("runner_left_a_trace", [False, True])
def test_a_start_cut_short_by_a_killed_process_is_undone(jobs_data_dir, runner_left_a_trace):
    """A CLI killed (-9) while starting a run (a long image pull, say) leaves a claim with no runner.
    The next look queues the run again, or calls it LOST if a runner may have started (never twice)."""
    claimer = subprocess.Popen([sys.executable, "-c", CLAIMER, str(jobs_data_dir), str(Path(__file__).parents[1])])
    # the same executor name, starting normally here; not embedded, so its looks never dispatch themselves
    service = service_with(jobs_data_dir, "none", embedded=False)
    deadline = time.monotonic() + 60
    while not (runs := [r for r in service.list() if r.status == "PREPARING"]):
        assert time.monotonic() < deadline and claimer.poll() is None, "the claimer never claimed its run"
        time.sleep(0.05)
    run_id = runs[0].id
    assert service.get(run_id).status == "PREPARING"  # its claimer lives: left alone
    if runner_left_a_trace:
        (service.run_dir(run_id) / "runner.pid").write_text("999999")
    claimer.kill()
    claimer.wait()
    run = service.get(run_id)
    if runner_left_a_trace:
        assert run.status == "LOST" and "before it recorded the runner" in run.error
        return
    assert run.status == "QUEUED" and "cut short" in run.notes[-1]
    assert service.dispatch() == [run_id]
    assert wait(service, run_id).status == "SUCCEEDED"
    assert service.logs(run_id, "stdout") == "again\n"  # started once
