"""Reconciliation decides transitions without I/O and applies them as compare-and-set: a reader with
a stale row never overwrites a newer state, never re-queues a run whose runner was started, and an
engine that cannot be asked (liveness UNKNOWN) never makes a run LOST."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from jupyter_jobs.executors.base import Liveness
from jupyter_jobs.service.db import RunRow
from jupyter_jobs.service.schemas import SubmitRequest
from jupyter_jobs.service.service import JobsService
from jupyter_jobs.service.transitions import Observation, Transition, next_transition
from jupyter_jobs.settings import JobsSettings
from jupyter_jobs.spec.models import JobSpec

RESOURCES = {"cpus": 1, "memory_gb": 1, "gpus": []}


def running_row(**fields) -> RunRow:
    values = {"id": "r1", "status": "RUNNING", "handle": {"pid": 1}, "claimed_by": None, "started_at": 1.0,
              "progress": None, "progress_message": None, "notes": []}
    return RunRow(**{**values, **fields})


@pytest.mark.parametrize(("liveness", "status"), [(Liveness.ALIVE, None), (Liveness.UNKNOWN, None),
                                                  (Liveness.GONE, "LOST")])
def test_only_a_runner_known_gone_makes_a_run_lost(liveness, status):
    transition = next_transition(running_row(), Observation(liveness=liveness), now=5.0)
    assert (transition and transition.to_status) == status


def test_a_result_settles_the_run_with_the_hosts_outputs_and_a_failure_may_retry():
    seen = Observation(result={"status": "FAILED", "exit_code": 3, "error": "exit code 3", "finished_at": 9.0},
                       outputs=[{"name": "out.txt", "src": "out.txt", "missing": True}],
                       state={"status": "RUNNING", "started_at": 2.0}, liveness=Liveness.UNKNOWN)
    transition = next_transition(running_row(), seen, now=10.0)
    assert transition.from_status == "RUNNING" and transition.retryable
    assert transition.changes["outputs"] == seen.outputs and transition.changes["exit_code"] == 3
    assert next_transition(running_row(status="SUCCEEDED"), seen, now=10.0) is None  # final rows stay


@pytest.mark.parametrize(("elsewhere", "starting", "now", "status"), [
    (True, False, 11.0, "QUEUED"),  # lapsed before a start was attempted: no runner can exist
    (True, True, 11.0, "LOST"),  # lapsed after: a runner may exist, it never starts twice
    (True, False, 9.0, None), (True, True, 9.0, None),  # a live lease is left alone
    (False, False, 11.0, None),  # on this host the pid decides: it lives (claimer_gone not seen)
])
def test_a_claim_from_another_host_is_undone_only_once_its_lease_ran_out(elsewhere, starting, now, status):
    claim = {"host": "another-host", "pid": 7, "started": None, "claim": "t", "lease_until": 10.0,
             **({"starting": True} if starting else {})}
    row = running_row(status="PREPARING", handle={}, claimed_by=claim)
    transition = next_transition(row, Observation(claimer_elsewhere=elsewhere), now=now)
    assert (transition and transition.to_status) == status
    assert transition is None or (transition.claim == "t" and transition.changes["claimed_by"] is None)


def test_a_claim_from_another_host_without_a_lease_is_never_undone():
    """Written by a version before leases: nothing says its claimer ended, so it is left as it is."""
    row = running_row(status="PREPARING", handle={}, claimed_by={"host": "another-host", "pid": 7, "claim": "t"})
    assert next_transition(row, Observation(claimer_elsewhere=True), now=1e12) is None


def _service(data_dir) -> JobsService:
    """A server-mode service: nothing dispatches unless the test says so."""
    return JobsService(JobsSettings(data_dir=str(data_dir)), embedded=False)


def _dead_claim(token: str, starting: bool = False) -> dict:
    """A claim by a process that has ended (it ran, printed its pid, exited)."""
    pid = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                             text=True, check=True).stdout)
    claim = {"host": socket.gethostname(), "pid": pid, "started": None, "claim": token}
    return {**claim, "starting": True} if starting else claim


def _wait(predicate, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, what
        time.sleep(0.02)
    return value


def test_a_stale_reader_does_not_requeue_a_run_whose_claimer_started_it_and_exited(jobs_data_dir, tmp_path):
    """The double start of issue 10: a reader took the row while it was PREPARING with no handle; the
    claimer then started the runner, stored its handle and exited normally; the reader, seeing the
    claimer gone, used to put the run back in the queue, and it ran a second time."""
    service = _service(jobs_data_dir)
    ledger = tmp_path / "ledger"
    run_id = service.submit(SubmitRequest(spec=JobSpec(cmd=f'echo "$JOB_ID" >> {ledger}; sleep 0.5'))).id
    assert service.scheduler._claim(run_id, RESOURCES, _dead_claim("t1"))
    stale = service.index.find(run_id)
    claimer_row = service.index.find(run_id)  # the claimer's own copy
    service.launch(claimer_row, service.executors["local"], RESOURCES)  # started and recorded (a worker thread)
    _wait(lambda: service.index.find(run_id).handle, "the launcher never stored the runner's handle")
    assert stale.handle == {} and stale.status == "PREPARING"  # what the reader still holds

    row, applied = service.reconciler.settle(stale)
    assert applied is None and row.status != "QUEUED" and row.handle  # nothing undone; the row read again
    assert _wait(lambda: service.get(run_id).finished, "the run never ended") and \
        service.get(run_id).status == "SUCCEEDED"
    assert service.dispatch() == []
    assert ledger.read_text().split() == [run_id]  # it ran once
    service.close()


def test_a_start_attempted_by_a_process_that_died_is_lost_not_queued_again(jobs_data_dir):
    service = _service(jobs_data_dir)
    run_id = service.submit(SubmitRequest(spec=JobSpec(cmd="true"))).id
    assert service.scheduler._claim(run_id, RESOURCES, _dead_claim("t2", starting=True))
    run = service.get(run_id)
    assert run.status == "LOST" and "before it recorded the runner" in run.error
    assert service.dispatch() == []
    service.close()


def test_a_claim_is_undone_only_while_the_row_still_holds_it(jobs_data_dir):
    """An undo decided from a stale row (claim t3, its claimer dead) does nothing once another process
    has claimed the run again (claim t4): that claim's start must not be undone."""
    service = _service(jobs_data_dir)
    run_id = service.submit(SubmitRequest(spec=JobSpec(cmd="true"))).id
    assert service.scheduler._claim(run_id, RESOURCES, _dead_claim("t3"))
    stale = service.index.find(run_id)
    assert service.index.apply(Transition(run_id, "PREPARING", {"status": "QUEUED", "claimed_by": None},
                                          claim="t3"))
    assert service.scheduler._claim(run_id, RESOURCES, {**_dead_claim("t4"), "host": "another-host"})
    row, applied = service.reconciler.settle(stale)
    assert applied is None and row.claimed_by["claim"] == "t4" and row.status == "PREPARING"
    service.close()


def test_a_stale_reader_never_overwrites_a_newer_status(jobs_data_dir):
    service = _service(jobs_data_dir)
    run_id = service.submit(SubmitRequest(spec=JobSpec(cmd="true"))).id
    stale = service.index.find(run_id)
    service.cancel(run_id)
    assert not service.index.apply(Transition(run_id, stale.status, {"status": "LOST"}))
    assert service.get(run_id).status == "CANCELLED"
    service.close()


def test_an_unreachable_docker_engine_is_unknown_not_gone(tmp_path):
    pytest.importorskip("docker")
    from jupyter_jobs.executors.docker import DockerExecutor

    settings = JobsSettings(data_dir=str(tmp_path))
    settings.config.DockerExecutor.base_url = f"unix://{tmp_path}/no-engine.sock"
    executor = DockerExecutor.from_settings(settings)
    assert executor.liveness({"container": "0123abcd"}, tmp_path) is Liveness.UNKNOWN
