"""A claim's lease: renewed by the claimer while it prepares and starts a run, ended when the handle is
stored, and, for a claimer on another host (which no pid check can see), the only word on whether it
lives: a lapsed lease undoes the claim as a dead claimer's would be, a live one is left alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from faulty_executor import FaultyExecutor
from helpers import wait_finished, wait_for

from jupyter_jobs.executors.local import LocalExecutor
from jupyter_jobs.procs import identity
from jupyter_jobs.service.claims import new_claim
from jupyter_jobs.service.schemas import SubmitRequest
from jupyter_jobs.service.service import JobsService
from jupyter_jobs.service.transitions import Transition
from jupyter_jobs.settings import JobsSettings
from jupyter_jobs.spec.models import JobSpec

LEASE = 2.0  # renewed every 2/3 s: slack for a busy machine

#: A CLI on "another-host" (argv: data dir, tests dir): claims its run, then hangs preparing it (a long
#: image pull) while its lease is renewed, until it is killed.
OTHER_HOST_CLAIMER = f"""
import socket, sys
socket.gethostname = lambda: "another-host"
sys.path.insert(0, sys.argv[2])
from faulty_executor import FaultyExecutor
from jupyter_jobs.service.schemas import SubmitRequest
from jupyter_jobs.service.service import JobsService
from jupyter_jobs.service.transitions import Transition
from jupyter_jobs.settings import JobsSettings
from jupyter_jobs.spec.models import JobSpec

settings = JobsSettings(data_dir=sys.argv[1], claim_lease_seconds={LEASE})
service = JobsService(settings, executors=[FaultyExecutor("held-start")])
service.submit(SubmitRequest(spec=JobSpec(cmd="echo again")))
"""


def _server(data_dir, fail_at: str = "none") -> JobsService:
    """A server-mode service on this host: nothing dispatches unless the test says so."""
    settings = JobsSettings(data_dir=str(data_dir), claim_lease_seconds=LEASE)
    return JobsService(settings, executors=[FaultyExecutor(fail_at), LocalExecutor(cpus=64)], embedded=False)


def test_the_claimer_renews_its_lease_while_it_prepares_and_ends_the_claim_with_the_handle(jobs_data_dir):
    service = _server(jobs_data_dir, "held-start")
    run_id = service.submit(SubmitRequest(spec=JobSpec(cmd="echo held"))).id
    assert service.dispatch() == [run_id]  # its start hangs in prepare, in a worker thread
    first = service.index.find(run_id).claimed_by["lease_until"]
    # renewed past the first lease's end: the first lease has run out, the claim still holds
    wait_for(lambda: service.index.find(run_id).claimed_by["lease_until"] > first + LEASE, 60, "a renewal")
    assert service.get(run_id).status == "PREPARING"
    service.executors["faulty"].release.set()
    assert wait_finished(service, run_id).status == "SUCCEEDED"
    assert service.index.find(run_id).claimed_by is None
    assert service.launcher.claims.change(run_id, None, {"progress": 1.0}) is False  # no longer held
    service.close()


def test_a_claim_taken_over_is_no_longer_changed_by_its_old_holder(jobs_data_dir):
    service = _server(jobs_data_dir)
    run_id = service.submit(SubmitRequest(spec=JobSpec(cmd="true"))).id
    claim = new_claim(identity(), LEASE)
    assert service.scheduler._claim(run_id, {"cpus": 1, "memory_gb": 1, "gpus": []}, claim)
    keeper = service.launcher.claims
    keeper.hold(run_id, claim)
    assert keeper.change(run_id, "PREPARING", {})  # a renewal
    renewed = service.index.find(run_id).claimed_by
    assert renewed["claim"] == claim["claim"] and renewed["lease_until"] >= claim["lease_until"]
    other = new_claim({"host": "another-host", "pid": 7, "started": None}, 3600)
    assert service.index.apply(Transition(run_id, "PREPARING", {"claimed_by": other}, claim=claim["claim"]))
    assert keeper.change(run_id, "PREPARING", {}) is False  # the renewal finds the claim gone
    assert service.index.find(run_id).claimed_by == other  # and changed nothing
    assert keeper.change(run_id, "PREPARING", {"status": "FAILED", "claimed_by": None}) is False  # forgotten
    assert service.index.find(run_id).status == "PREPARING"
    service.close()


def test_a_server_on_another_host_that_dies_mid_start_has_its_run_queued_again_and_run_once(jobs_data_dir):
    claimer = subprocess.Popen([sys.executable, "-c", OTHER_HOST_CLAIMER, str(jobs_data_dir),
                                str(Path(__file__).parents[1])])
    service = _server(jobs_data_dir)
    try:
        run_id = wait_for(lambda: next((r.id for r in service.list() if r.status == "PREPARING"), None)
                          or claimer.poll() is not None and "exited", 60, "the claim")
        assert claimer.poll() is None, "the claimer exited"
        claim = service.index.find(run_id).claimed_by
        assert claim["host"] == "another-host"
        # its lease renewed past the first one's end: still its claim, left alone
        wait_for(lambda: service.index.find(run_id).claimed_by["lease_until"] > claim["lease_until"] + LEASE,
                 60, "a renewal of the other host's lease")
        assert service.get(run_id).status == "PREPARING"
    finally:
        claimer.kill()
        claimer.wait()
    run = wait_for(lambda: (r := service.get(run_id)).status != "PREPARING" and r, 60, "the lapsed claim undone")
    assert run.status == "QUEUED" and "cut short" in run.notes[-1]
    assert service.dispatch() == [run_id]
    assert wait_finished(service, run_id).status == "SUCCEEDED"
    assert service.logs(run_id, "stdout") == "again\n"  # started once
    service.close()
