"""`Job(...).schedule(cron, timezone)`, `get_schedule`, `list_schedules`: the Python API's schedules, on the
embedded service with a real runner. A tick is fired with the service's `fire_due(now)` (a server's loop)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from jupyter_jobs import Job, get_schedule, list_schedules
from jupyter_jobs.client import EmbeddedClient
from jupyter_jobs.errors import JobsError


def test_a_job_on_a_cron_from_python(tmp_path):
    (tmp_path / "main.py").write_text("print('hello from a schedule')\n")
    job = Job(cmd="python main.py", inputs=["main.py"], name="hello", base_dir=tmp_path)
    for kwargs, message in (({"timezone": "Tokyo"}, "Job.schedule(timezone): 'Tokyo' is not a known IANA time zone"),
                            ({"overlap": "wait"}, "Job.schedule(overlap): Input should be 'skip' or 'queue'")):
        with pytest.raises(JobsError) as caught:
            job.schedule("0 3 * * *", **kwargs)
        assert str(caught.value).startswith(message)
    assert list_schedules() == []

    scheduled = job.schedule("30 4 * * *", timezone="Asia/Tokyo", missed="run-once")
    assert [s.id for s in list_schedules()] == [scheduled.id]
    assert [(t.hour, t.minute, str(t.tzinfo)) for t in scheduled.next_times] == [(4, 30, "Asia/Tokyo")] * 3
    assert scheduled.schedule.missed == "run-once" and scheduled.schedule.name == "hello"

    first = scheduled.schedule.next_fire_at
    [run_id] = EmbeddedClient().service.fire_due(datetime.fromtimestamp(first, timezone.utc))
    [run] = scheduled.runs()
    assert run.id == run_id and run.result().status == "SUCCEEDED"
    assert run.logs() == "hello from a schedule\n"
    assert scheduled.schedule.last_run_id == run_id

    again = get_schedule(scheduled.id[:7])  # a prefix will do
    assert again.pause().paused and again.next_times == []
    assert not again.resume().paused and len(again.next_times) == 3  # from now on (the real clock)
    again.delete()
    assert list_schedules() == []
