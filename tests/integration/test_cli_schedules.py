"""`jupyter jobs schedule ...` end to end: real CLI subprocesses on the embedded service, a real runner.

Without a server nothing fires by itself: most tests fire a tick with the service's own `fire_due(now)`
at a chosen `now` (what a server's loop does every few seconds) and read the result back through the CLI;
one lets a real Jupyter server fire what the CLI scheduled through its REST API.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from helpers import JupyterServer, parameters_notebook, wait_for
from test_cli_jobs import jobs, ok, wait_final, write

from jupyter_jobs.client import EmbeddedClient

CONFIG = {
    "main.py": """
        import sys
        print("nightly", sys.argv[1:])
    """,
    "config.yaml": """
        name: nightly-report
        cmd: python main.py ${MODE}
        args:
          MODE: full
        inputs:
          - main.py
    """,
}


def schedules() -> list[dict]:
    return json.loads(ok("schedule", "list", "--format", "json").stdout)


def fire(at: float) -> list[str]:
    """What a server's firing loop does at time `at`: the ids of the runs it started."""
    return EmbeddedClient().service.fire_due(datetime.fromtimestamp(at, timezone.utc))


def blobs(jobs_data_dir) -> list:
    """The input files stored (uploaded) so far."""
    return [p for p in (jobs_data_dir / "blobs").rglob("*") if p.is_file()]


def test_a_config_on_a_cron_fires_pauses_resumes_and_is_deleted(tmp_path, jobs_data_dir):
    write(tmp_path, CONFIG)
    created = ok("schedule", "create", "-c", "config.yaml", "--cron", "0 3 * * *", "--tz", "Europe/Moscow",
                 "--missed", "run-once", "--instance-type", "c1.8", cwd=tmp_path)
    schedule_id = created.stdout.strip()
    assert re.fullmatch(r"sch-\w+", schedule_id), created.stdout
    assert f"schedule {schedule_id} created: At 03:00 AM (Europe/Moscow), c1.8 on local" in created.stderr
    assert "uploaded 1 file" in created.stderr and blobs(jobs_data_dir)
    # Through the embedded client: one line says that only a running server fires it.
    assert "note: no Jupyter server with jupyter_jobs is running here" in created.stderr

    [listed] = schedules()
    assert (listed["id"], listed["name"], listed["kind"], listed["missed"], listed["overlap"]) == (
        schedule_id, "nightly-report", "command", "run-once", "skip")
    first = datetime.fromtimestamp(listed["next_fire_at"], ZoneInfo("Europe/Moscow"))
    assert (first.hour, first.minute) == (3, 0) and len(listed["next_times"]) == 3
    table = ok("schedule", "list").stdout
    assert re.search(rf"{schedule_id}\s+nightly-report\s+0 3 \* \* \* Europe/Moscow\s+\w{{3}} \d{{4}}-", table)
    assert table.splitlines()[1].split()[-2:] == ["-", "no"]  # no run yet, not paused

    details = ok("schedule", "get", schedule_id[:7]).stdout  # a prefix will do
    assert "0 3 * * * (Europe/Moscow): At 03:00 AM" in details
    assert "missed ticks:    run-once" in details
    assert len(re.findall(r"= 03:00 Europe/Moscow|\d\d:\d\d MSK", details)) == 3  # the next 3, as there
    assert "has fired no runs yet" in ok("schedule", "runs", schedule_id).stderr

    [run_id] = fire(listed["next_fire_at"])
    assert wait_final(run_id)["status"] == "SUCCEEDED"
    assert "nightly ['full']" in ok("logs", run_id).stdout
    runs = ok("schedule", "runs", schedule_id).stdout
    assert run_id in runs and "SUCCEEDED" in runs
    [fired] = json.loads(ok("schedule", "runs", schedule_id, "--format", "json").stdout)
    assert (fired["id"], fired["schedule_id"]) == (run_id, schedule_id)
    details = ok("schedule", "get", schedule_id).stdout
    assert f"last run:        {run_id} SUCCEEDED" in details and "runs fired:      1" in details
    assert "recent runs:" in details and run_id in details.split("recent runs:")[1]
    assert ok("schedule", "list").stdout.splitlines()[1].split()[-2:] == ["SUCCEEDED", "no"]

    paused = ok("schedule", "pause", schedule_id)
    assert f"schedule {schedule_id} paused" in paused.stderr
    [listed] = schedules()
    assert listed["paused"] and listed["next_fire_at"] is None
    assert fire(first.timestamp() + 86400) == []  # the next day's tick: paused, nothing fires
    assert ok("schedule", "list").stdout.splitlines()[1].split()[-3:] == ["-", "SUCCEEDED", "yes"]  # no next

    resumed = ok("schedule", "resume", schedule_id)
    assert f"schedule {schedule_id} resumed; next: " in resumed.stderr
    [listed] = schedules()
    assert not listed["paused"] and listed["next_fire_at"] is not None

    deleted = ok("schedule", "delete", schedule_id)
    assert f"schedule {schedule_id} deleted; the 1 run it fired stay" in deleted.stderr
    assert schedules() == []
    assert "no schedules yet" in ok("schedule", "list").stderr
    assert json.loads(ok("get", run_id, "--format", "json").stdout)["schedule_id"] == schedule_id  # it stays
    gone = jobs("schedule", "get", schedule_id)
    assert gone.returncode == 2 and schedule_id in gone.stderr


def make_notebook(folder):
    return parameters_notebook(folder / "report.ipynb", "alpha = 1\nlabel = 'x'", "print('alpha', alpha, label)")


def test_a_notebook_with_parameters_on_a_cron(tmp_path):
    make_notebook(tmp_path)
    created = ok("schedule", "create", "--notebook", "report.ipynb", "-p", "alpha", "0.5", "-r", "label", "7",
                 "--cron", "*/15 8-18 * * 1-5", "--overlap", "queue", "--name", "workday", cwd=tmp_path)
    schedule_id = created.stdout.strip()
    assert "parameters: alpha=0.5, label='7'" in created.stderr  # typed as `run` types them
    [listed] = schedules()
    assert (listed["id"], listed["name"], listed["kind"], listed["overlap"]) == (
        schedule_id, "workday", "notebook", "queue")
    assert listed["source"].endswith("report.ipynb")
    assert listed["description"] == "Every 15 minutes, between 08:00 AM and 06:59 PM, Monday through Friday"
    assert all(datetime.fromtimestamp(t, timezone.utc).weekday() < 5 for t in listed["next_times"])
    details = ok("schedule", "get", schedule_id).stdout
    assert "kind:            notebook" in details and "parameters:      alpha=0.5, label=\"7\"" in details


def test_a_parameter_the_notebook_lacks_is_refused_before_anything_is_saved(tmp_path, jobs_data_dir):
    make_notebook(tmp_path)
    proc = jobs("schedule", "create", "--notebook", "report.ipynb", "-p", "beta", "1", "--cron", "0 3 * * *",
                cwd=tmp_path)
    assert proc.returncode == 2 and "report.ipynb has no parameter 'beta'" in proc.stderr
    assert schedules() == [] and blobs(jobs_data_dir) == []


@pytest.mark.parametrize(("flags", "message"), [
    (["--cron", "0 25 * * *"], "jobs: error: --cron: '0 25 * * *' is not a valid cron expression: Bad hour"),
    (["--cron", "0 3 * *"], "jobs: error: --cron: '0 3 * *' has 4 fields; a cron expression has 5"),
    (["--cron", "0 3 * * *", "--tz", "Mars/Olympus"],
     "jobs: error: --tz: 'Mars/Olympus' is not a known IANA time zone"),
    (["--cron", "0 3 * * *", "-p", "alpha", "1"], "jobs: error: -p is for --notebook schedules"),
])
def test_bad_timing_is_one_line_naming_the_flag_before_anything_is_uploaded(tmp_path, jobs_data_dir, flags, message):
    write(tmp_path, CONFIG)
    proc = jobs("schedule", "create", "-c", "config.yaml", *flags, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith(message) and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert blobs(jobs_data_dir) == []
    assert schedules() == []


def test_a_schedule_needs_a_job_and_a_cron(tmp_path):
    for argv, text in ((["--cron", "0 3 * * *"], "one of the arguments -c/--config --notebook is required"),
                       (["-c", "config.yaml"], "the following arguments are required: --cron"),
                       (["-c", "config.yaml", "--notebook", "nb.ipynb", "--cron", "0 3 * * *"], "not allowed with")):
        proc = jobs("schedule", "create", *argv, cwd=tmp_path)
        assert proc.returncode == 2 and text in proc.stderr, proc.stderr


def test_a_running_server_fires_what_the_cli_scheduled(tmp_path):
    with JupyterServer(tmp_path, {"JobsSettings": {"schedule_poll_seconds": 0.5}}) as server:
        write(server.root, CONFIG)
        env = dict(os.environ, JUPYTER_JOBS_URL=server.url, JUPYTER_JOBS_TOKEN=server.TOKEN)
        created = ok("schedule", "create", "-c", "config.yaml", "--cron", "* * * * *", cwd=server.root, env=env)
        schedule_id = created.stdout.strip()
        assert f"schedule {schedule_id} created: Every minute (UTC)" in created.stderr
        assert "note:" not in created.stderr  # a server runs: nothing to warn about
        # The next minute's tick: the server's own loop fires it.
        wait_for(lambda: server.client.schedule_runs(schedule_id), timeout=150, interval=0.5,
                 message="the server firing the schedule's tick")
        [run] = server.client.schedule_runs(schedule_id)
        wait_for(lambda: server.client.get(run.id).finished, timeout=60, message="the fired run ending")
        assert server.client.get(run.id).status == "SUCCEEDED"
        runs = ok("schedule", "runs", schedule_id, env=env).stdout
        assert run.id in runs and "SUCCEEDED" in runs
        assert "nightly ['full']" in ok("logs", run.id, env=env).stdout
        ok("schedule", "delete", schedule_id, env=env)
        assert server.client.schedules() == []
