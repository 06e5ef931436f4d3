"""Several servers sharing one run index, on SQLite (one host) and on PostgreSQL (any host): a run is
claimed once, the executors' capacity holds over all of them, and the schema is built from nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from helpers import wait_finished
from sqlalchemy import create_engine, text

from jupyter_jobs.service import db
from jupyter_jobs.service.schemas import SubmitRequest
from jupyter_jobs.service.service import JobsService
from jupyter_jobs.settings import JobsSettings
from jupyter_jobs.spec.models import JobSpec

#: A process dispatching from a data dir until its deadline (argv: settings as JSON, seconds).
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

#: A server of its own (argv: settings as JSON, command, count): submits its runs one by one while it
#: dispatches, dispatches until they all ended, prints its pid and their ids.
SERVER = """
import json, os, sys, time
from jupyter_jobs.service.schemas import SubmitRequest
from jupyter_jobs.service.service import JobsService
from jupyter_jobs.settings import JobsSettings
from jupyter_jobs.spec.models import JobSpec
service = JobsService(JobsSettings(**json.loads(sys.argv[1])), embedded=False)
ids = []
for _ in range(int(sys.argv[3])):
    spec = JobSpec(cmd=sys.argv[2], instance_types=["VM.Standard2.2"])
    ids.append(service.submit(SubmitRequest(spec=spec)).id)
    service.scheduler.dispatch()
deadline = time.monotonic() + 180
while not all(service.get(i).finished for i in ids) and time.monotonic() < deadline:
    service.scheduler.dispatch()
    time.sleep(0.02)
service.close()
print(json.dumps({"pid": os.getpid(), "ids": ids}))
"""


def test_a_claim_is_won_once(index_url, tmp_path):
    first = JobsService(JobsSettings(data_dir=str(tmp_path / "a"), db_url=index_url, max_concurrent=1),
                        embedded=False)
    second = JobsService(JobsSettings(data_dir=str(tmp_path / "b"), db_url=index_url, max_concurrent=1),
                         embedded=False)
    blocker = first.submit(SubmitRequest(spec=JobSpec(cmd="sleep 30"))).id
    first.scheduler.dispatch()
    queued = first.submit(SubmitRequest(spec=JobSpec(cmd="true"))).id
    assert second.get(queued).status == "QUEUED"
    resources = {"cpus": 1, "memory_gb": 1, "gpus": []}
    assert [first.scheduler._claim(queued, resources), second.scheduler._claim(queued, resources)] == [True, False]
    first.cancel(blocker)


def test_two_dispatching_processes_start_each_run_exactly_once(index_url, jobs_data_dir):
    settings = {"data_dir": str(jobs_data_dir), "db_url": index_url, "local_cpus": 8}
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


def test_two_servers_share_the_capacity_and_serve_their_own_runs(index_url, tmp_path):
    """Two servers (data dirs of their own, one index) submit and dispatch at once. The local executor
    of this host has room for two VM.Standard2.2 runs: never more run at once, whoever started them.
    Each job records its id, how many jobs run with it, and which server started its runner."""
    active, ledger = tmp_path / "active", tmp_path / "ledger.txt"
    active.mkdir()
    server_pid = "$(cut -d' ' -f4 /proc/$PPID/stat)"  # the runner's parent
    cmd = (f'touch {active}/$JOB_ID; echo "$JOB_ID $(ls {active} | wc -l) {server_pid}" >> {ledger}; '
           f'sleep 0.3; rm {active}/$JOB_ID')
    servers = {}
    for name in ("a", "b"):
        settings = {"data_dir": str(tmp_path / name), "db_url": index_url, "local_cpus": 4,
                    "local_memory_gb": 1000}
        servers[name] = subprocess.Popen([sys.executable, "-c", SERVER, json.dumps(settings), cmd, "12"],
                                         stdout=subprocess.PIPE, text=True)
    answers = [json.loads(proc.communicate(timeout=240)[0]) for proc in servers.values()]
    assert all(proc.returncode == 0 for proc in servers.values())
    server_of = {run_id: answer["pid"] for answer in answers for run_id in answer["ids"]}

    reader = JobsService(JobsSettings(data_dir=str(tmp_path / "reader"), db_url=index_url), embedded=False)
    assert {run.id: run.status for run in reader.list(limit=100)} == dict.fromkeys(server_of, "SUCCEEDED")
    lines = [line.split() for line in ledger.read_text().splitlines()]
    assert sorted(line[0] for line in lines) == sorted(server_of)  # each run started once
    assert {line[0]: int(line[2]) for line in lines} == server_of  # by the server it was sent to
    assert max(int(line[1]) for line in lines) <= 2, lines  # the shared capacity held


def test_a_claim_from_another_host_is_taken_back_only_once_its_lease_ran_out(index_url, tmp_path):
    """Rows as a server on another host (sharing this data dir) left them: one claim whose lease ran
    out (that server died mid-start, before attempting it) and one whose lease is live. The first is
    queued again and run here, once; the second is left alone."""
    service = JobsService(JobsSettings(data_dir=str(tmp_path / "a"), db_url=index_url, local_cpus=8),
                          embedded=False)
    ledger = tmp_path / "ledger.txt"
    lapsed, live = (service.submit(SubmitRequest(spec=JobSpec(cmd=f'echo "$JOB_ID" >> {ledger}'))).id
                    for _ in range(2))
    resources = {"cpus": 1, "memory_gb": 1, "gpus": []}
    elsewhere = {"host": "another-host", "pid": 4242, "started": None}
    assert service.scheduler._claim(lapsed, resources, {**elsewhere, "claim": "t1", "lease_until": time.time() - 1})
    assert service.scheduler._claim(live, resources, {**elsewhere, "claim": "t2", "lease_until": time.time() + 3600})

    assert service.dispatch() == [lapsed]  # settled first: queued again, then claimed here
    assert wait_finished(service, lapsed).status == "SUCCEEDED"
    assert "cut short" in service.get(lapsed).notes[-1]
    assert service.get(live).status == "PREPARING"
    assert service.index.find(live).claimed_by["claim"] == "t2"  # its claim untouched
    assert service.dispatch() == []
    assert ledger.read_text().split() == [lapsed]  # run once, and only it
    service.close()


def test_the_schema_is_built_from_nothing(index_url, tmp_path):
    """An empty database gets every migration; the result is the models' schema, nothing missing."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    JobsService(JobsSettings(data_dir=str(tmp_path), db_url=index_url), embedded=False).close()
    engine = create_engine(index_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == db.SCHEMA_REVISION
        assert compare_metadata(MigrationContext.configure(conn), db.Base.metadata) == []
    engine.dispose()
