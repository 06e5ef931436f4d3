"""`%job schedule NB --cron ...`, `%%job --cron ...` and `%job schedules` in a real kernel.

No server runs here, so nothing fires by itself: the test fires a tick with the service's `fire_due(now)`
at a chosen `now`, as a server's loop does.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

from helpers import parameters_notebook


def result_text(reply) -> str:
    return "".join(m["content"]["data"]["text/plain"] for m in reply.of_type("execute_result"))


def wait_final(client, run_id: str, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while not (run := client.get(run_id)).finished:
        assert time.monotonic() < deadline, f"run {run_id} still {run.status} after {timeout}s"
        time.sleep(0.1)
    return run


def test_job_schedule_saves_a_notebook_with_parameters(kernel, client):
    parameters_notebook(kernel.cwd / "report.ipynb", "alpha = 1", "print('alpha', alpha)")

    reply = kernel.ok('%job schedule report.ipynb --cron "0 6 * * 1-5" --tz Europe/Berlin -p alpha 2')
    [schedule] = client.schedules()
    text = result_text(reply)
    assert f"schedule {schedule.id} created: At 06:00 AM, Monday through Friday (Europe/Berlin)" in text
    assert "note: no Jupyter server with jupyter_jobs is running here" in text  # the kernel's client is embedded
    assert (schedule.kind, schedule.timezone, schedule.parameters) == ("notebook", "Europe/Berlin", {"alpha": "2"})
    assert schedule.source == str(kernel.cwd / "report.ipynb")

    for line, flag in (('report.ipynb --cron "0 6 * * 8"', "--cron: '0 6 * * 8' is not a valid cron expression"),
                       ('report.ipynb --cron "0 6 * * *" --tz Berlin', "--tz: 'Berlin' is not a known IANA time zone"),
                       ('report.ipynb --cron "0 6 * * *" -p beta 1', "report.ipynb has no parameter 'beta'")):
        bad = kernel.execute(f"%job schedule {line}")
        assert bad.status == "error" and bad.content["ename"] == "UsageError", bad.content
        assert flag in bad.content["evalue"]
    assert [s.id for s in client.schedules()] == [schedule.id]  # nothing saved on bad input

    listing = result_text(kernel.ok("%job schedules"))
    assert schedule.id in listing and "0 6 * * 1-5 Europe/Berlin" in listing


def test_a_scheduled_cell_runs_with_its_variables_as_they_were(kernel, client):
    kernel.ok("x = 41")
    reply = kernel.ok('%%job --cron "*/5 * * * *" --name answer\nprint("answer", x + 1)')
    [schedule] = client.schedules()
    assert f"schedule {schedule.id} created: Every 5 minutes (UTC)" in result_text(reply)
    assert (schedule.kind, schedule.name) == ("cell", "answer")
    assert client.list() == []  # scheduled, not run now
    kernel.ok("x = 0")  # the schedule keeps the cell and its variables as they were when it was made

    [run_id] = client.service.fire_due(datetime.fromtimestamp(schedule.next_fire_at, timezone.utc))
    run = wait_final(client, run_id)
    assert run.status == "SUCCEEDED", client.logs(run_id, "stderr") + client.logs(run_id, "system")
    assert "answer 42" in client.logs(run_id, "stdout")
    assert [r.id for r in client.schedule_runs(schedule.id)] == [run_id]

    bad = kernel.execute('%%job --cron "every day"\nprint(1)')
    assert bad.status == "error" and "--cron: 'every day' has 2 fields" in bad.content["evalue"]
    bad = kernel.execute('%%job --tz Europe/Paris\nprint(1)')
    assert bad.status == "error" and "add --cron EXPR" in bad.content["evalue"]
    bad = kernel.execute('%%job --cron "0 3 * * *\nprint(1)')
    assert bad.status == "error" and bad.content["ename"] == "UsageError"
    assert "No closing quotation" in bad.content["evalue"]
    assert len(client.schedules()) == 1 and len(client.list()) == 1  # neither saved nor run


def test_job_schedules_shows_pauses_resumes_and_deletes_one(kernel, client):
    parameters_notebook(kernel.cwd / "daily.ipynb", "alpha = 1", "print('alpha', alpha)")
    kernel.ok('%job schedule daily.ipynb --cron "0 6 * * *"')
    [schedule] = client.schedules()
    short = schedule.id[:8]

    shown = result_text(kernel.ok(f"%job schedules {short}"))
    assert schedule.id in shown and "0 6 * * * (UTC): At 06:00 AM" in shown and re.search(r"^paused: +no$", shown, re.M)

    assert f"schedule {schedule.id} paused; `%job schedules resume {schedule.id}` fires it again" in \
        kernel.ok(f"%job schedules pause {short}").text()
    assert client.schedule(schedule.id).paused
    assert f"schedule {schedule.id} resumed; next: " in kernel.ok(f"%job schedules resume {short}").text()
    assert not client.schedule(schedule.id).paused

    for line in ("%job schedules pause", f"%job schedules {short} {short}"):
        bad = kernel.execute(line)
        assert bad.status == "error" and "%job schedules takes one schedule id" in bad.content["evalue"], bad.content
    unknown = kernel.execute("%job schedules pause sch-ffff")
    assert unknown.status == "error" and "sch-ffff" in unknown.content["evalue"], unknown.content

    # a timing flag without --cron is refused, also when it names the default
    for flag in ("--tz UTC", "--missed skip", "--overlap queue"):
        refused = kernel.execute(f"%%job {flag}\nprint('not run')")
        assert refused.status == "error" and "are for a scheduled cell: add --cron EXPR" in refused.content["evalue"]

    assert kernel.ok(f"%job schedules delete {short}").text() == f"schedule {schedule.id} deleted\n"
    assert client.schedules() == [] and result_text(kernel.ok("%job schedules")) == "no schedules"
