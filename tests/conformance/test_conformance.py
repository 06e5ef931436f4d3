"""What every executor must do, on its real engine: start, follow, exit codes, graceful and hard
cancel, re-attach after a service restart, capacity, GPU refusal."""

from __future__ import annotations

import pytest
from helpers import submit, wait_output, wait_status

from jupyter_jobs.errors import SubmitError

#: A job that counts the graceful signals it gets: the handler says so, waits (a second signal would
#: show in that time), then exits 0 - the usual way to shut down gracefully.
SIGNAL_COUNTER = """python3 -u -c '
import signal, sys, time
got = []
def on_term(signum, frame):
    got.append(signum)
    print("got TERM", len(got), flush=True)
signal.signal(signal.SIGTERM, on_term)
print("ready", flush=True)
while not got:
    time.sleep(0.05)
time.sleep(3)
print("handled", len(got), flush=True)
'"""


def start(service, cmd: str, **spec) -> str:
    """Submit on the tiny `one` type (tests/conformance/conftest.py), which every engine can serve."""
    return submit(service, cmd, instance_types=["one"], **spec)


def test_start_and_follow_logs_and_progress(make_service):
    service = make_service()
    cmd = ("echo first; echo '{\"progress\": 50, \"message\": \"half\"}' >> $JOB_PROGRESS_FILENAME; "
           "echo to-stderr >&2; sleep 1; echo second")
    run_id = start(service, cmd)
    seen = []
    for event in service.follow(run_id):
        seen.append(event)
    kinds = [e["type"] for e in seen]
    assert kinds[-1] == "result" and seen[-1]["status"] == "SUCCEEDED"
    text = "".join(e["text"] for e in seen if e["type"] == "log" and e["stream"] == "stdout")
    assert text == "first\nsecond\n"
    assert any(e["type"] == "log" and e["stream"] == "stderr" and "to-stderr" in e["text"] for e in seen)
    assert [(e["progress"], e["message"]) for e in seen if e["type"] == "progress"] == [(50.0, "half")]
    statuses = [e["status"] for e in seen if e["type"] == "status"]
    assert statuses.index("PREPARING") < statuses.index("RUNNING")
    run = service.get(run_id)
    assert (run.status, run.exit_code, run.progress) == ("SUCCEEDED", 0, 50.0)


def test_exit_code_is_passed_through(make_service):
    service = make_service()
    run = wait_status(service, start(service, "echo failing; exit 7"), "FAILED")
    assert (run.exit_code, run.error) == (7, "exit code 7")


def test_graceful_cancel_reaches_the_job_exactly_once(make_service):
    service = make_service()
    run_id = start(service, SIGNAL_COUNTER, graceful_shutdown={"signal": "SIGTERM", "timeout_s": 30})
    wait_status(service, run_id, "RUNNING")
    wait_output(service, run_id, "ready")
    service.cancel(run_id, graceful=True, reason="stopped by the test")
    run = wait_status(service, run_id, "CANCELLED", timeout=90)
    out = service.logs(run_id, "stdout")
    assert out.count("got TERM") == 1 and "handled 1" in out, out
    assert run.error == "stopped by the test"
    assert "sending SIGTERM" in service.logs(run_id, "system")


def test_hard_cancel_kills_at_once(make_service):
    service = make_service()
    run_id = start(service, "echo ready; sleep 600", graceful_shutdown={"signal": "SIGTERM", "timeout_s": 600})
    wait_status(service, run_id, "RUNNING")
    wait_output(service, run_id, "ready")
    service.cancel(run_id, graceful=False, reason="killed by the test")
    run = wait_status(service, run_id, "CANCELLED", timeout=90)
    assert run.error == "killed by the test"
    assert "killing the job" in service.logs(run_id, "system")


def test_a_new_service_reattaches_a_running_job(make_service):
    first = make_service()
    run_id = start(first, "echo started; sleep 5; echo finished")
    wait_status(first, run_id, "RUNNING")
    wait_output(first, run_id, "started")
    first.close()  # the "server" goes away; the job does not
    second = make_service()
    assert second.get(run_id).status == "RUNNING"
    run = wait_status(second, run_id, "SUCCEEDED")
    assert second.logs(run_id, "stdout") == "started\nfinished\n"
    assert run.exit_code == 0


def test_capacity_queues_runs_until_a_slot_frees(make_service):
    service = make_service(capacity=1)
    first = start(service, "echo one; sleep 4")
    second = start(service, "echo two")
    wait_status(service, first, "RUNNING")
    assert service.get(second).status == "QUEUED"
    assert service.get(second).queue_position == 1
    wait_status(service, first, "SUCCEEDED")
    run = wait_status(service, second, "SUCCEEDED")
    assert service.logs(second, "stdout") == "two\n"
    assert run.started_at >= service.get(first).finished_at  # it waited for the slot


def test_gpu_types_the_engine_cannot_serve_are_refused(make_service):
    service = make_service()
    with pytest.raises(SubmitError, match="GPU") as refused:
        submit(service, "nvidia-smi", instance_types=["g2.1"])
    assert "g2.1" in str(refused.value)
    assert service.list(limit=10) == []  # nothing was queued: it would wait for ever
    types = {t.name: reason for t, reason in service.instance_types()}
    assert "GPU" in types["g2.1"] and types["one"] is None
