"""The local executor's standby runner (executors/standby.py), with real processes: a submit starts
it, the run is handed to it with the launcher's environment of that moment, and a standby that cannot
be used (ended, or started under another interpreter environment) gives way to a fresh runner."""

from __future__ import annotations

import os
import signal

from helpers import process_ended, wait_finished, wait_for

from jupyter_jobs.executors.local import LocalExecutor
from jupyter_jobs.service.schemas import SubmitRequest
from jupyter_jobs.service.service import JobsService
from jupyter_jobs.settings import JobsSettings
from jupyter_jobs.spec.models import JobSpec


def service_on(data_dir) -> tuple[JobsService, LocalExecutor]:
    executor = LocalExecutor(cpus=64)
    return JobsService(JobsSettings(data_dir=str(data_dir)), executors=[executor]), executor


def runner_pid(service: JobsService, run_id: str) -> int:
    return service.index.row(run_id).handle["pid"]


def test_a_submit_runs_in_the_standby_it_started_with_the_environment_of_the_launch(jobs_data_dir, monkeypatch):
    service, executor = service_on(jobs_data_dir)
    executor.expect_launch()
    standby = executor._standby.pid
    monkeypatch.setenv("SET_AFTER_THE_STANDBY_STARTED", "seen")  # the run gets the launcher's env of its launch
    run = service.submit(SubmitRequest(spec=JobSpec(cmd="echo $SET_AFTER_THE_STANDBY_STARTED; pwd")))
    assert runner_pid(service, run.id) == standby
    final = wait_finished(service, run.id)
    assert final.status == "SUCCEEDED", service.logs(run.id, "system")
    assert service.logs(run.id, "stdout").splitlines()[0] == "seen"
    assert (service.run_dir(run.id) / "runner.out").exists()
    assert executor._standby is None  # taken; the next submit starts another
    service.close()


def test_a_standby_left_unused_ends_when_its_launcher_lets_go(jobs_data_dir):
    service, executor = service_on(jobs_data_dir)
    executor.expect_launch()
    pid = executor._standby.pid
    service.close()
    wait_for(lambda: process_ended(pid), timeout=30)


def test_an_ended_standby_gives_way_to_a_fresh_runner(jobs_data_dir):
    service, executor = service_on(jobs_data_dir)
    executor.expect_launch()
    dead = executor._standby.pid
    os.kill(dead, signal.SIGKILL)
    wait_for(lambda: process_ended(dead), timeout=30)
    run = service.submit(SubmitRequest(spec=JobSpec(cmd="echo fresh")))
    assert runner_pid(service, run.id) != dead
    assert wait_finished(service, run.id).status == "SUCCEEDED"
    assert service.logs(run.id, "stdout") == "fresh\n"
    service.close()


def test_a_standby_started_under_another_interpreter_environment_is_not_used(jobs_data_dir, monkeypatch):
    """PYTHON*, LANG and LC_* are read when an interpreter starts, so a changed one needs a fresh runner."""
    service, executor = service_on(jobs_data_dir)
    executor.expect_launch()
    stale = executor._standby.pid
    monkeypatch.setenv("PYTHONWARNINGS", "ignore::DeprecationWarning")
    run = service.submit(SubmitRequest(spec=JobSpec(cmd="echo $PYTHONWARNINGS")))
    assert runner_pid(service, run.id) != stale
    assert wait_finished(service, run.id).status == "SUCCEEDED"
    assert service.logs(run.id, "stdout") == "ignore::DeprecationWarning\n"
    wait_for(lambda: process_ended(stale), timeout=30)
    service.close()
