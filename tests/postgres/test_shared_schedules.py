"""Schedules on an index several servers share (SQLite on one host, PostgreSQL on any): two server
processes firing the same due ticks at the same moment start each tick's run exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from jupyter_jobs.service.schemas import ScheduleRequest, ScheduleTiming, SubmitRequest
from jupyter_jobs.service.service import JobsService
from jupyter_jobs.settings import JobsSettings
from jupyter_jobs.spec.models import JobSpec

#: A server process (argv: settings as JSON, the go-file, the instants as JSON): once the go-file
#: exists, fires what is due at each instant; prints the run ids it started.
FIRER = """
import json, os, sys, time
from datetime import datetime, timezone
from jupyter_jobs.service.service import JobsService
from jupyter_jobs.settings import JobsSettings
service = JobsService(JobsSettings(**json.loads(sys.argv[1])), embedded=False)
deadline = time.monotonic() + 60
while not os.path.exists(sys.argv[2]) and time.monotonic() < deadline:
    time.sleep(0.001)
fired = []
for at in json.loads(sys.argv[3]):
    fired += service.fire_due(datetime.fromtimestamp(at, timezone.utc))
service.close()
print(json.dumps(fired))
"""

BERLIN = ZoneInfo("Europe/Berlin")


def test_two_server_processes_fire_each_tick_once(index_url, tmp_path):
    settings = {"db_url": index_url}
    creator = JobsService(JobsSettings(data_dir=str(tmp_path / "creator"), **settings), embedded=False)
    creator.schedules.clock = datetime(2026, 6, 1, 12, tzinfo=BERLIN).timestamp
    job = SubmitRequest(spec=JobSpec(cmd="true"))
    ids = [creator.create_schedule(ScheduleRequest(
        timing=ScheduleTiming(cron=f"{minute} 3 * * *", timezone="Europe/Berlin", overlap="queue"), job=job)).id
        for minute in range(0, 60, 5)]
    # Both fire every minute of two nights: each schedule has two ticks, each due at the same moment in both.
    instants = [datetime(2026, 6, day, 3, minute, 1, tzinfo=BERLIN).timestamp()
                for day in (2, 3) for minute in range(60)]
    go = tmp_path / "go"
    servers = [subprocess.Popen([sys.executable, "-c", FIRER,
                                 json.dumps({"data_dir": str(tmp_path / name), **settings}), str(go),
                                 json.dumps(instants)], stdout=subprocess.PIPE, text=True)
               for name in ("a", "b")]
    go.touch()
    fired = []
    for server in servers:
        out, _ = server.communicate(timeout=120)
        assert server.returncode == 0
        fired.append(json.loads(out))
    assert len(fired[0]) + len(fired[1]) == 2 * len(ids)
    assert len(set(fired[0]) | set(fired[1])) == 2 * len(ids)
    for schedule_id in ids:
        runs = creator.schedule_runs(schedule_id)
        assert len(runs) == 2 and all(run.schedule_id == schedule_id for run in runs)
        schedule = creator.get_schedule(schedule_id)
        assert schedule.run_count == 2 and schedule.skipped_count == 0
    creator.close()
