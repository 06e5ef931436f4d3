"""The schedule flags every front door shares (`schedule_timing.py`), the `schedule` commands' shape, and
how a fire time is shown."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from jupyter_jobs import console, schedule_timing
from jupyter_jobs.cli.commands import build_parser, main
from jupyter_jobs.errors import JobsError


def parse(*argv: str):
    return build_parser().parse_args(["schedule", *argv])


def test_the_flags_make_a_timing_with_defaults():
    args = parse("create", "-c", "config.yaml", "--cron", " 0  3 * * * ")
    timing = schedule_timing.from_args(args, "nightly")
    assert (timing.cron, timing.timezone, timing.missed, timing.overlap, timing.name) == (
        "0 3 * * *", "UTC", "skip", "skip", "nightly")
    args = parse("create", "--notebook", "nb.ipynb", "-p", "alpha", "0.5", "--cron", "0 3 * * *",
                 "--tz", "Europe/Moscow", "--missed", "run-once", "--overlap", "queue", "--instance-type", "g1.1")
    assert (args.notebook, args.parameters, args.timezone, args.missed, args.overlap, args.instance) == (
        "nb.ipynb", [["alpha", "0.5"]], "Europe/Moscow", "run-once", "queue", "g1.1")


@pytest.mark.parametrize(("values", "message"), [
    ({"cron": "0 3 * * * *"}, "--cron: '0 3 * * * *' has 6 fields; a cron expression has 5"),
    ({"cron": "61 * * * *"}, "--cron: '61 * * * *' is not a valid cron expression: Bad minute"),
    ({"cron": "0 3 * * *", "timezone": "Europe/Atlantis"}, "--tz: 'Europe/Atlantis' is not a known IANA time zone"),
    ({"cron": "0 3 * * *", "missed": "later"}, "--missed: Input should be 'skip' or 'run-once'"),
    ({"cron": "0 3 * * *", "name": "a\x07b"}, "--name: "),
])
def test_a_refused_value_names_its_flag(values, message):
    with pytest.raises(JobsError) as caught:
        schedule_timing.make_timing(schedule_timing.FLAGS, **values)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize("action", ["get", "pause", "resume", "delete", "runs"])
def test_a_schedule_is_named_by_a_positional_id(action, capsys):
    assert parse(action, " sch-ab ").id == "sch-ab"
    with pytest.raises(SystemExit):
        parse(action)
    assert "the following arguments are required: ID" in capsys.readouterr().err
    assert main(["schedule", action, "sch-nope"]) == 2  # none exists: one line naming it
    assert "sch-nope" in capsys.readouterr().err


def test_a_fire_time_is_shown_here_and_in_the_schedules_zone(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        at = datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("UTC")).timestamp()  # 03:30 in Berlin (summer time)
        assert console.fire_time(at, "Europe/Berlin", now=at - 3 * 3600 - 60) == (
            "Sun 2026-03-29 01:30 UTC = 03:30 Europe/Berlin (in 3h 1m)")
        assert console.fire_time(at, "UTC", now=at - 2 * 86400 - 7200) == "Sun 2026-03-29 01:30 UTC (in 2d 2h)"
        assert console.fire_time(at, None, now=at - 30).endswith("(in <1m)")
        assert console.fire_time(at, None, now=at + 120).endswith("(due)")
        assert console.fire_time(None) == "-"
    finally:
        monkeypatch.undo()
        time.tzset()
