"""A failed run retried while another run waits in the queue: every reader and the queue kick finish.

The retry is a consequence of settling the failed run; it used to be submitted from inside the dispatch
loop, under the dispatch lock, and that submit dispatched again and waited for the same lock forever.
The scenario runs in a subprocess so that a hang fails the test instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

SCENARIO = """
import json, sys, time
from pathlib import Path
from jupyter_jobs.service.schemas import SubmitRequest
from jupyter_jobs.service.service import JobsService
from jupyter_jobs.settings import JobsSettings
from jupyter_jobs.spec.models import JobSpec

service = JobsService(JobsSettings(data_dir=sys.argv[1], max_concurrent=1))
failing = service.submit(SubmitRequest(spec=JobSpec(cmd="exit 3", retries=1))).id
waiting = service.submit(SubmitRequest(spec=JobSpec(cmd="echo waited"))).id
assert service.get(waiting).status == "QUEUED"
result = service.run_dir(failing) / "result.json"
deadline = time.monotonic() + 60
while not result.exists():  # FAILED in its run dir, not yet in the index; its runner kicks the queue
    assert time.monotonic() < deadline, "the failing run never ended"
    time.sleep(0.02)
service.list()  # settles the failed run: its retry is admitted, the queue dispatched
while True:
    runs = service.list()
    if len(runs) == 3 and all(run.finished for run in runs):
        break
    assert time.monotonic() < deadline, [(run.id, run.status) for run in runs]
    time.sleep(0.05)
print(json.dumps({"failing": failing, "waiting": waiting,
                  "runs": [[run.id, run.status, run.attempt, run.parent_id] for run in runs]}))
"""


def _stop_leftover_kicks(data_dir: Path) -> None:
    """After a hang, the queue kicks the runners started (found by this test's own data dir) are stopped."""
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"jupyter_jobs.service.kick" in cmdline and str(data_dir).encode() in cmdline:
            try:
                os.kill(int(proc.name), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass


def test_a_failed_run_with_retries_while_another_waits_does_not_hang(jobs_data_dir):
    try:
        done = subprocess.run([sys.executable, "-c", SCENARIO, str(jobs_data_dir)], capture_output=True,
                              text=True, timeout=90)
    except subprocess.TimeoutExpired:
        _stop_leftover_kicks(jobs_data_dir)
        raise AssertionError("settling a failed run with retries while another run waits hung") from None
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    by_id = {run_id: (status, attempt, parent) for run_id, status, attempt, parent in report["runs"]}
    assert by_id[report["failing"]][:2] == ("FAILED", 1)
    assert by_id[report["waiting"]][0] == "SUCCEEDED"
    retry = [v for k, v in by_id.items() if k not in (report["failing"], report["waiting"])]
    assert retry == [("FAILED", 2, report["failing"])]  # retried exactly once, and it failed again
