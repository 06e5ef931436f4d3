"""The local executor's standby runner (executors/standby.py), with real processes: a submit starts
it, the run is handed to it with the launcher's environment of that moment, and a standby that cannot
be used (ended, or started under another interpreter environment) gives way to a fresh runner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from helpers import process_ended, wait_finished, wait_for

from jupyter_jobs.executors import standby
from jupyter_jobs.executors.local import LocalExecutor
from jupyter_jobs.service.schemas import SubmitRequest
from jupyter_jobs.service.service import JobsService
from jupyter_jobs.settings import JobsSettings
from jupyter_jobs.spec.models import JobSpec


def make_service(data_dir) -> JobsService:
    return JobsService(JobsSettings(data_dir=str(data_dir)), executors=[LocalExecutor(cpus=64)])


def runner_pid(service: JobsService, run_id: str) -> int:
    return service.index.row(run_id).handle["pid"]


def spare_pid() -> int:
    standby.prestart()
    return standby._spare.pid


def test_a_submit_runs_in_the_spare_with_the_environment_of_its_launch(jobs_data_dir, monkeypatch):
    service = make_service(jobs_data_dir)
    spare = spare_pid()
    monkeypatch.setenv("SET_AFTER_THE_SPARE_STARTED", "seen")  # the run gets the launcher's env of its launch
    run = service.submit(SubmitRequest(spec=JobSpec(cmd="echo $SET_AFTER_THE_SPARE_STARTED")))
    assert runner_pid(service, run.id) == spare
    final = wait_finished(service, run.id)
    assert final.status == "SUCCEEDED", service.logs(run.id, "system")
    assert service.logs(run.id, "stdout") == "seen\n"
    assert (service.run_dir(run.id) / "runner.out").exists()
    assert standby._spare is None  # taken; the next submit starts another
    service.close()


def test_a_spare_left_unused_ends_when_its_process_lets_go(jobs_data_dir):
    service = make_service(jobs_data_dir)
    pid = spare_pid()
    service.close()
    wait_for(lambda: process_ended(pid), timeout=30)


def test_an_ended_spare_gives_way_to_a_fresh_runner(jobs_data_dir):
    service = make_service(jobs_data_dir)
    dead = spare_pid()
    os.kill(dead, signal.SIGKILL)
    wait_for(lambda: process_ended(dead), timeout=30)
    run = service.submit(SubmitRequest(spec=JobSpec(cmd="echo fresh")))
    assert runner_pid(service, run.id) != dead
    assert wait_finished(service, run.id).status == "SUCCEEDED"
    assert service.logs(run.id, "stdout") == "fresh\n"
    service.close()


def test_a_spare_started_under_another_interpreter_environment_is_not_used(jobs_data_dir, monkeypatch):
    """PYTHON*, LANG and LC_* are read when an interpreter starts, so a changed one needs a fresh runner."""
    service = make_service(jobs_data_dir)
    stale = spare_pid()
    monkeypatch.setenv("PYTHONWARNINGS", "ignore::DeprecationWarning")
    run = service.submit(SubmitRequest(spec=JobSpec(cmd="echo $PYTHONWARNINGS")))
    assert runner_pid(service, run.id) != stale
    assert wait_finished(service, run.id).status == "SUCCEEDED"
    assert service.logs(run.id, "stdout") == "ignore::DeprecationWarning\n"
    wait_for(lambda: process_ended(stale), timeout=30)
    service.close()


def test_the_cli_starts_its_runner_as_it_opens_the_data_dir(jobs_data_dir, tmp_path):
    """`execute` runs its job in the spare `connect(submitting=True)` started (its command line says
    `--standby`), and the job sees the CLI's environment."""
    (tmp_path / "config.yaml").write_text("cmd: echo $FROM_THE_CLI; sleep 30\n")
    env = dict(os.environ, FROM_THE_CLI="cli")
    proc = subprocess.run([sys.executable, "-m", "jupyter_jobs.cli", "execute", "-c", "config.yaml", "--async"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    service = make_service(jobs_data_dir)
    run_id = proc.stdout.split()[-1]
    pid = runner_pid(service, run_id)
    assert b"--standby" in Path(f"/proc/{pid}/cmdline").read_bytes()
    wait_for(lambda: service.logs(run_id, "stdout") == "cli\n", timeout=60)
    service.cancel(run_id)
    assert wait_finished(service, run_id).status == "CANCELLED"
    service.close()
