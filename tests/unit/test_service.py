"""The service with real local runs: queue and GPU slots, idempotency, secrets, retries, reconciliation."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from pathlib import Path

import pytest
from helpers import wait_for

from jupyter_jobs.errors import SubmitError
from jupyter_jobs.service.db import SCHEMA_REVISION
from jupyter_jobs.service.schemas import Origin, SubmitRequest
from jupyter_jobs.service.service import JobsService, new_run_id
from jupyter_jobs.settings import JobsSettings
from jupyter_jobs.spec.models import JobSpec


def make_service(data_dir: Path, **settings) -> JobsService:
    return JobsService(JobsSettings(data_dir=str(data_dir), **settings))


def submit(service: JobsService, cmd: str, **spec) -> str:
    request = SubmitRequest(spec=JobSpec(cmd=cmd, **spec), origin=Origin(user="alice"))
    return service.submit(request).id


def wait_final(service: JobsService, run_ids: list[str], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = {run.id: run for run in service.list(limit=1000)}
        if all(runs[i].finished for i in run_ids):
            return runs
        time.sleep(0.1)
    raise AssertionError(f"runs not finished: {[(i, runs[i].status) for i in run_ids]}")


def runner_and_job(run_dir: Path, timeout: float = 30) -> tuple[int, int]:
    """The pid of a run's runner (from its pid file) and of its job (the runner's child, which leads
    the job's process group), once both exist."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            runner = int((run_dir / "runner.pid").read_text())
            children = Path(f"/proc/{runner}/task/{runner}/children").read_text().split()
            if children and os.getpgid(int(children[0])) == int(children[0]):  # it leads its group now
                return runner, int(children[0])
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    raise AssertionError(f"no runner with a job in {run_dir}")


def test_schema_revision_is_alembics_head():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    import jupyter_jobs.service.db as db

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(db.__file__).parent / "migrations"))
    assert ScriptDirectory.from_config(cfg).get_current_head() == SCHEMA_REVISION


def test_migrations_upgrade_an_old_database(jobs_data_dir):
    """A 0001 database (before scheduling columns) is upgraded in place, runs kept."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    import jupyter_jobs.service.db as db

    engine = db.make_engine(f"sqlite:///{jobs_data_dir}/jobs.db")
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(db.__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    assert db.current_revision(engine) == "0001"
    service = make_service(jobs_data_dir)
    assert db.current_revision(engine) == SCHEMA_REVISION
    run_id = submit(service, "true")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT attempt FROM runs WHERE id=:i"), {"i": run_id}).scalar() == 1


def test_a_new_index_is_in_wal_mode_set_once_not_per_connection(jobs_data_dir):
    """WAL belongs to the file: `upgrade` sets it when it creates the index; a connection only sets its
    own `synchronous` (asking for WAL on every open fails racing cold opens with "database is locked")."""
    import sqlite3

    make_service(jobs_data_dir).close()
    raw = sqlite3.connect(jobs_data_dir / "jobs.db")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()
    import sqlalchemy as sa

    from jupyter_jobs.service.db import make_engine

    statements: list[str] = []
    engine = make_engine(f"sqlite:///{jobs_data_dir}/jobs.db")
    sa.event.listen(engine, "connect", lambda conn, _: conn.set_trace_callback(statements.append), insert=True)
    with engine.connect():
        pass
    assert "PRAGMA synchronous=NORMAL" in statements
    assert not [sql for sql in statements if "journal_mode" in sql]


def test_run_ids_sort_by_creation_time():
    first = new_run_id()
    later = wait_for(lambda: (i := new_run_id())[:8] != first[:8] and i, message="the next millisecond")
    assert later > first


def test_gpu_slots_are_never_shared_and_queue_in_order(jobs_data_dir):
    service = make_service(jobs_data_dir, local_gpus=["0", "1"], local_cpus=64, local_memory_gb=1024)
    cmd = 'echo "gpus=$CUDA_VISIBLE_DEVICES"; sleep 1'
    big = submit(service, cmd, instance_types=["g1.2"])
    small = [submit(service, cmd, instance_types=["g1.1"]) for _ in range(2)]
    queued = {run.id: run for run in service.list()}
    assert queued[big].status in ("PREPARING", "RUNNING")
    assert [queued[i].queue_position for i in small] == [1, 2]
    runs = wait_final(service, [big] + small)
    assert all(runs[i].status == "SUCCEEDED" for i in [big] + small)
    assert service.logs(big, "stdout").strip() in ("gpus=0,1", "gpus=1,0")
    assert sorted(service.logs(i, "stdout").strip() for i in small) == ["gpus=0", "gpus=1"]
    # Both small runs started only after the big one had ended: no GPU was ever held twice.
    for i in small:
        assert runs[i].started_at >= runs[big].finished_at


def test_gpu_type_refused_without_gpus_names_what_runs_here(jobs_data_dir):
    service = make_service(jobs_data_dir, local_gpus=[])
    with pytest.raises(SubmitError) as info:
        submit(service, "true", instance_types=["g1.1"])
    message = str(info.value)
    assert "g1.1" in message and "needs 1 GPU" in message and "c1.4" in message
    assert service.list() == []


def test_first_servable_instance_type_wins(jobs_data_dir):
    service = make_service(jobs_data_dir, local_gpus=[])
    run = service.get(submit(service, "true", instance_types=["g2.1", "c1.8"]))
    assert run.instance_type == "c1.8"
    assert any("g2.1 skipped" in note for note in run.notes)


def test_idempotent_submit_returns_the_first_run(jobs_data_dir):
    service = make_service(jobs_data_dir)
    request = SubmitRequest(spec=JobSpec(cmd="true"), idempotency_key="key-1")
    first = service.submit(request)
    again = service.submit(request)
    assert again.id == first.id
    assert len(service.list()) == 1


def test_secrets_reach_the_job_and_never_its_logs(jobs_data_dir):
    service = make_service(jobs_data_dir)
    service.secrets.set("API_TOKEN", "s3cr3t-value")
    assert oct(os.stat(jobs_data_dir / "secrets.json").st_mode & 0o777) == "0o600"
    digest = hashlib.sha256(b"s3cr3t-value").hexdigest()
    run_id = submit(service, 'echo "token=$API_TOKEN"; '
                             f'[ "$(printf %s "$API_TOKEN" | sha256sum | cut -d" " -f1)" = {digest} ] && echo match; '
                             'printf "s3cr"; sleep 0.3; printf "3t-value\\n"')
    runs = wait_final(service, [run_id])
    assert runs[run_id].status == "SUCCEEDED"
    stdout = service.logs(run_id, "stdout")
    assert "match" in stdout and "token=****" in stdout
    assert "s3cr3t-value" not in stdout and "****\n" in stdout
    run_dir = service.run_dir(run_id)
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert b"s3cr3t-value" not in path.read_bytes(), path
    assert service.secrets.names() == ["API_TOKEN"]


def test_failed_run_is_retried_as_asked(jobs_data_dir):
    service = make_service(jobs_data_dir)
    marker = jobs_data_dir / "attempts"
    run_id = submit(service, f'echo x >> {marker}; [ $(wc -l < {marker}) -ge 3 ]', retries=2)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runs = service.list()
        if len(runs) == 3 and all(r.finished for r in runs):
            break
        time.sleep(0.1)
    runs = sorted(service.list(), key=lambda r: r.attempt)
    assert [r.attempt for r in runs] == [1, 2, 3]
    assert [r.status for r in runs] == ["FAILED", "FAILED", "SUCCEEDED"]
    assert runs[1].parent_id == run_id and runs[2].parent_id == runs[1].id


def test_a_vanished_runner_becomes_lost_and_a_finished_one_keeps_its_result(jobs_data_dir):
    service = make_service(jobs_data_dir, local_cpus=64)
    lost = submit(service, "sleep 31.5")
    done = submit(service, "echo done")
    runner, job = runner_and_job(service.run_dir(lost))
    os.kill(runner, signal.SIGKILL)  # the runner dies without a result
    os.killpg(job, signal.SIGKILL)
    fresh = make_service(jobs_data_dir, local_cpus=64)  # a restarted service reconciles
    fresh.reconcile()
    runs = wait_final(fresh, [lost, done])
    assert runs[lost].status == "LOST"
    assert runs[done].status == "SUCCEEDED"


def test_per_run_timeout_stops_the_job_and_fails_the_run(jobs_data_dir):
    service = make_service(jobs_data_dir)
    run_id = submit(service, "echo started; sleep 30", timeout_s=1)
    run = wait_final(service, [run_id])[run_id]
    assert run.status == "FAILED"
    assert run.error == "timed out after 1s"
    assert "timeout of 1s reached" in service.logs(run_id, "system")


@pytest.mark.parametrize("limit", [{"max_concurrent": 1}, {"max_per_instance_type": {"c1.8": 1}},
                                   {"max_per_user": 1}])
def test_operator_limits_hold_runs_back_in_order(jobs_data_dir, limit):
    service = make_service(jobs_data_dir, local_cpus=64, **limit)
    first = submit(service, "sleep 1", instance_types=["c1.8"])
    second = submit(service, "true", instance_types=["c1.8"])
    assert service.get(second).status == "QUEUED"
    runs = wait_final(service, [first, second])
    assert runs[second].started_at >= runs[first].finished_at


def test_a_limit_on_one_type_does_not_hold_back_another(jobs_data_dir):
    service = make_service(jobs_data_dir, local_cpus=64, max_per_instance_type={"c1.8": 1})
    first = submit(service, "sleep 2", instance_types=["c1.8"])
    other = submit(service, "true", instance_types=["c1.4"])
    runs = wait_final(service, [first, other])
    assert runs[other].finished_at < runs[first].finished_at
