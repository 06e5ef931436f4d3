"""Two services (two servers) sharing one database never start a run twice."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from jupyter_jobs.service.schemas import SubmitRequest
from jupyter_jobs.service.service import JobsService
from jupyter_jobs.settings import JobsSettings
from jupyter_jobs.spec.models import JobSpec

DISPATCHER = """
import json, sys, time
from jupyter_jobs.service.service import JobsService
from jupyter_jobs.settings import JobsSettings
service = JobsService(JobsSettings(**json.loads(sys.argv[1])), embedded=False)
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    service.scheduler.dispatch()
    time.sleep(0.01)
"""


def test_a_claim_is_won_once(jobs_data_dir):
    settings = JobsSettings(data_dir=str(jobs_data_dir), max_concurrent=1)
    first, second = JobsService(settings, embedded=False), JobsService(settings, embedded=False)
    blocker = first.submit(SubmitRequest(spec=JobSpec(cmd="sleep 5"))).id
    queued = first.submit(SubmitRequest(spec=JobSpec(cmd="true"))).id
    assert first.get(queued).status == "QUEUED"
    resources = {"cpus": 1, "memory_gb": 1, "gpus": []}
    assert [first.scheduler._claim(queued, resources), second.scheduler._claim(queued, resources)] == [True, False]
    first.cancel(blocker)


def test_two_dispatching_processes_start_each_run_exactly_once(jobs_data_dir):
    settings = {"data_dir": str(jobs_data_dir), "local_cpus": 8}
    service = JobsService(JobsSettings(**settings), embedded=False)
    ledger = jobs_data_dir / "ledger.txt"
    ids = [service.submit(SubmitRequest(spec=JobSpec(cmd=f'echo "$JOB_ID" >> {ledger}; sleep 0.2'))).id
           for _ in range(30)]
    procs = [subprocess.Popen([sys.executable, "-c", DISPATCHER, json.dumps(settings), "25"]) for _ in range(2)]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            runs = {run.id: run for run in service.list(limit=100)}
            if all(runs[i].finished for i in ids):
                break
            time.sleep(0.2)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    assert all(runs[i].status == "SUCCEEDED" for i in ids), {i: runs[i].status for i in ids}
    started = ledger.read_text().split()
    assert sorted(started) == sorted(ids)  # every run once: none lost, none twice
