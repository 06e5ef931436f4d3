"""Schedules with a controlled clock: firing on time and once, missed ticks after downtime, overlap,
pause/resume, delete, daylight-saving changes, bad timing. The services are real (a real index, real
admission and queue); they are not embedded, so a fired run waits QUEUED until a test dispatches it."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from helpers import wait_finished
from pydantic import ValidationError

from jupyter_jobs.errors import JobsError, NotFound
from jupyter_jobs.service.firing import MISSED, STILL_GOING
from jupyter_jobs.service.schedules import InvalidTiming
from jupyter_jobs.service.schemas import Origin, ScheduleRequest, ScheduleTiming, SubmitRequest
from jupyter_jobs.service.service import JobsService
from jupyter_jobs.settings import JobsSettings
from jupyter_jobs.spec.models import JobSpec

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
#: The clock at which the tests' schedules are created (a Monday noon in Berlin).
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=BERLIN)


def make_service(data_dir: Path, at: datetime = T0, **settings) -> JobsService:
    service = JobsService(JobsSettings(data_dir=str(data_dir), **settings), embedded=False)
    set_clock(service, at)
    return service


def set_clock(service: JobsService, at: datetime) -> None:
    service.schedules.clock = at.timestamp


def request(cron: str = "0 3 * * *", zone: str = "Europe/Berlin", cmd: str = "echo tick", **timing) -> ScheduleRequest:
    job = SubmitRequest(spec=JobSpec(cmd=cmd, name="nightly"), origin=Origin(source="nightly.yaml", user="alice"))
    return ScheduleRequest(timing=ScheduleTiming(cron=cron, timezone=zone, **timing), job=job)


def berlin(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 6) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=BERLIN)


def test_fires_on_time_once_and_links_the_run(jobs_data_dir):
    service = make_service(jobs_data_dir)
    schedule = service.create_schedule(request())
    assert schedule.next_fire_at == berlin(2, 3).timestamp()
    assert schedule.next_times == [berlin(d, 3).timestamp() for d in (2, 3, 4)]
    assert schedule.description == "At 03:00 AM" and schedule.name == "nightly" and schedule.kind == "command"
    assert schedule.source == "nightly.yaml" and schedule.instance_type and schedule.executor == "local"

    assert service.fire_due(berlin(2, 2, 59, 59)) == []
    fired = service.fire_due(berlin(2, 3, 0, 5))
    assert len(fired) == 1
    assert service.fire_due(berlin(2, 3, 0, 30)) == []  # the tick moved on: never twice
    run = service.get(fired[0])
    assert run.schedule_id == schedule.id and run.status == "QUEUED"
    assert run.origin.source == "nightly.yaml" and run.origin.user == "alice" and run.spec.cmd == "echo tick"

    schedule = service.get_schedule(schedule.id[:7])  # a prefix, like run ids
    assert schedule.next_fire_at == berlin(3, 3).timestamp()
    assert schedule.last_run_id == run.id and schedule.last_status == "QUEUED" and schedule.run_count == 1
    assert schedule.last_fired_at == berlin(2, 3, 0, 5).timestamp()
    assert schedule.skipped == [] and schedule.skipped_count == 0
    assert [r.id for r in service.schedule_runs(schedule.id)] == [run.id]

    # The run goes through the normal queue: a dispatch starts it and it ends as any run does.
    service.dispatch()
    assert wait_finished(service, run.id).status == "SUCCEEDED"
    assert service.get_schedule(schedule.id).last_status == "SUCCEEDED"


def test_two_services_sharing_the_index_fire_each_tick_once(tmp_path):
    url = f"sqlite:///{tmp_path}/shared.db"
    services = [make_service(tmp_path / name, db_url=url) for name in ("a", "b")]
    ids = [services[0].create_schedule(request(cron=f"{m} 3 * * *")).id for m in range(12)]
    barrier = threading.Barrier(2)
    fired: list[list[str]] = [[], []]

    def fire(i: int) -> None:
        for minute in range(12):
            barrier.wait()
            fired[i] += services[i].fire_due(berlin(2, 3, minute, 1))

    threads = [threading.Thread(target=fire, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fired[0]) + len(fired[1]) == 12
    for schedule_id in ids:
        assert len(services[1].schedule_runs(schedule_id)) == 1
        assert services[1].get_schedule(schedule_id).skipped_count == 0


@pytest.mark.parametrize("missed", ["skip", "run-once"])
def test_ticks_missed_while_no_server_ran(jobs_data_dir, missed):
    service = make_service(jobs_data_dir)
    schedule = service.create_schedule(request(missed=missed))
    # No server from before the first tick until well after the fourth: 2, 3, 4 and 5 June 03:00 missed.
    fired = service.fire_due(berlin(5, 4))
    schedule = service.get_schedule(schedule.id)
    ticks = [berlin(d, 3).timestamp() for d in (5, 4, 3, 2)]  # newest first
    if missed == "skip":
        assert fired == [] and schedule.run_count == 0
        assert [(s.at, s.reason) for s in schedule.skipped] == [(t, MISSED) for t in ticks]
        assert schedule.skipped_count == 4
    else:
        assert len(fired) == 1 and schedule.last_run_id == fired[0]
        assert service.find_by_key(f"schedule:{schedule.id}:{int(ticks[0])}").id == fired[0]  # the newest tick
        assert [s.at for s in schedule.skipped] == ticks[1:] and schedule.skipped_count == 3
    assert schedule.next_fire_at == berlin(6, 3).timestamp()


def test_after_downtime_a_tick_due_just_now_still_fires_on_time(jobs_data_dir):
    service = make_service(jobs_data_dir)
    schedule = service.create_schedule(request(missed="skip"))
    fired = service.fire_due(berlin(4, 3, 2))  # within the grace after the 4 June tick
    schedule = service.get_schedule(schedule.id)
    assert len(fired) == 1
    assert [s.at for s in schedule.skipped] == [berlin(3, 3).timestamp(), berlin(2, 3).timestamp()]


@pytest.mark.parametrize("overlap", ["skip", "queue"])
def test_overlap_with_a_run_still_going(jobs_data_dir, overlap):
    service = make_service(jobs_data_dir)
    schedule = service.create_schedule(request(overlap=overlap))
    first = service.fire_due(berlin(2, 3, 0, 1))
    assert len(first) == 1 and service.get(first[0]).status == "QUEUED"  # still going
    second = service.fire_due(berlin(3, 3, 0, 1))
    schedule = service.get_schedule(schedule.id)
    if overlap == "skip":
        assert second == []
        assert [(s.at, s.reason) for s in schedule.skipped] == [(berlin(3, 3).timestamp(), STILL_GOING)]
        service.cancel(first[0])
        third = service.fire_due(berlin(4, 3, 0, 1))  # the previous run ended: this one fires
        assert len(third) == 1
    else:
        assert len(second) == 1 and second != first and schedule.skipped == []
        assert service.get(second[0]).queue_position == 2  # the queue holds it behind the first


def test_pause_and_resume_do_not_count_paused_ticks_as_missed(jobs_data_dir):
    service = make_service(jobs_data_dir)
    schedule = service.create_schedule(request(missed="run-once"))
    paused = service.pause_schedule(schedule.id)
    assert paused.paused and paused.next_fire_at is None and paused.next_times == []
    assert service.fire_due(berlin(3, 4)) == []
    set_clock(service, berlin(5, 12))
    resumed = service.resume_schedule(schedule.id)
    assert not resumed.paused and resumed.next_fire_at == berlin(6, 3).timestamp()
    assert resumed.skipped == [] and resumed.skipped_count == 0  # 2-5 June were not wanted, not missed
    assert len(service.fire_due(berlin(6, 3, 0, 1))) == 1
    assert service.get_schedule(schedule.id).skipped_count == 0


def test_a_schedule_paused_after_a_server_saw_it_due_is_not_fired(jobs_data_dir):
    """The claim is a compare-and-set on the tick seen: a pause in between wins."""
    service = make_service(jobs_data_dir)
    schedule = service.create_schedule(request())
    due = service.firing.store.due(berlin(2, 3, 0, 1).timestamp())
    service.pause_schedule(schedule.id)
    assert [service.firing._fire(row, berlin(2, 3, 0, 1).timestamp()) for row in due] == [None]
    assert service.schedule_runs(schedule.id) == []


def test_delete_keeps_the_runs_it_fired(jobs_data_dir):
    service = make_service(jobs_data_dir)
    schedule = service.create_schedule(request())
    fired = service.fire_due(berlin(2, 3, 0, 1))
    service.delete_schedule(schedule.id)
    with pytest.raises(NotFound):
        service.get_schedule(schedule.id)
    assert service.list_schedules() == []
    assert service.get(fired[0]).schedule_id == schedule.id
    assert [r.id for r in service.schedule_runs(schedule.id)] == fired
    assert service.fire_due(berlin(3, 3, 0, 1)) == []


def test_dst_spring_forward_and_fall_back(jobs_data_dir):
    """America/New_York: 2026-03-08 02:00 -> 03:00 (02:30 does not exist: it fires at 03:00 EDT, the first
    minute that does); 2026-11-01 02:00 -> 01:00 (01:30 happens twice: it fires once, at the first, EDT)."""
    service = make_service(jobs_data_dir, at=datetime(2026, 3, 7, 12, tzinfo=NEW_YORK))
    spring = service.create_schedule(request(cron="30 2 * * *", zone="America/New_York"))
    three_edt = datetime(2026, 3, 8, 7, 0, tzinfo=timezone.utc)  # 03:00 EDT
    assert spring.next_fire_at == three_edt.timestamp()
    assert service.fire_due(three_edt - timedelta(seconds=1)) == []
    assert len(service.fire_due(three_edt + timedelta(seconds=1))) == 1
    spring = service.get_schedule(spring.id)
    assert spring.next_fire_at == datetime(2026, 3, 9, 2, 30, tzinfo=NEW_YORK).timestamp()  # 06:30 UTC
    assert spring.run_count == 1 and spring.skipped_count == 0

    set_clock(service, datetime(2026, 10, 31, 12, tzinfo=NEW_YORK))
    fall = service.create_schedule(request(cron="30 1 * * *", zone="America/New_York"))
    first = datetime(2026, 11, 1, 5, 30, tzinfo=timezone.utc)  # 01:30 EDT
    second = datetime(2026, 11, 1, 6, 30, tzinfo=timezone.utc)  # 01:30 EST, an hour later
    assert fall.next_fire_at == first.timestamp()
    assert len(service.fire_due(first + timedelta(seconds=1))) == 1
    assert service.get_schedule(fall.id).next_fire_at == datetime(2026, 11, 2, 6, 30, tzinfo=timezone.utc).timestamp()
    assert service.fire_due(second + timedelta(seconds=1)) == []
    fall = service.get_schedule(fall.id)
    assert fall.run_count == 1 and fall.skipped_count == 0


@pytest.mark.parametrize(("timing", "field", "words"), [
    ({"cron": "0 3 * *"}, "cron", "has 4 fields; a cron expression has 5"),
    ({"cron": "61 3 * * *"}, "cron", "is not a valid cron expression: Bad minute"),
    ({"cron": "0 3 * * *", "timezone": "Europe/Atlantis"}, "timezone", "is not a known IANA time zone"),
    ({"cron": "0 3 * * *", "timezone": "../../etc/passwd"}, "timezone", "is not a known IANA time zone"),
    ({"cron": "0 3 * * *", "timezone": "Europe/" + "x" * 300}, "timezone", "is not a known IANA time zone"),
    ({"cron": "0 3 * * *", "missed": "always"}, "missed", "'skip' or 'run-once'"),
])
def test_bad_timing_is_one_message_naming_the_field(jobs_data_dir, timing, field, words):
    with pytest.raises(ValidationError) as info:
        ScheduleTiming(**timing)
    assert info.value.error_count() == 1
    error = info.value.errors()[0]
    assert error["loc"] == (field,) and words in error["msg"]
    if field in ("cron", "timezone"):
        service = make_service(jobs_data_dir)
        with pytest.raises(InvalidTiming) as preview:
            service.cron_preview(timing["cron"], timing.get("timezone", "UTC"))
        assert preview.value.field == field
        assert str(preview.value).startswith(f"{field}: ") and words in str(preview.value)


def test_preview_says_the_cron_in_words_and_its_next_times(jobs_data_dir):
    service = make_service(jobs_data_dir)
    preview = service.cron_preview("*/15 9-17 * * 1-5", "Europe/Berlin")
    assert preview.description == "Every 15 minutes, between 09:00 AM and 05:59 PM, Monday through Friday"
    assert preview.next_times == [berlin(1, 12, m).timestamp() for m in (15, 30, 45)]


def test_a_job_that_could_not_run_is_refused_at_create(jobs_data_dir):
    service = make_service(jobs_data_dir)
    bad = request()
    bad.job.spec.instance_types = ["no-such-type"]
    with pytest.raises(JobsError) as info:
        service.create_schedule(bad)
    assert "no-such-type" in str(info.value)
    assert service.list_schedules() == []


def test_a_schedules_inputs_outlive_the_cleanup_of_unreferenced_blobs(jobs_data_dir, tmp_path):
    """The blobs a schedule fires with are kept by the cleanup; one gone anyway is a skipped tick that
    says why, and the schedule goes on."""
    from jupyter_jobs.client import EmbeddedClient
    from jupyter_jobs.spec.models import FileRef
    from jupyter_jobs.submit import capture, schedule

    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    spec = JobSpec(cmd="cat ${DATA}", inputs=[FileRef(path="data.csv", var="DATA")])
    service = make_service(jobs_data_dir)
    client = EmbeddedClient(service.settings, service)
    captured, _ = capture(spec, tmp_path, service.settings)
    timing = ScheduleTiming(cron="0 3 * * *", timezone="Europe/Berlin", overlap="queue")
    created = schedule(client, spec, captured, tmp_path, "job.yaml", timing)
    assert created.source == "job.yaml"
    service.cleanup()
    assert len(service.fire_due(berlin(2, 3, 0, 1))) == 1

    sha = captured.bundle.inputs[0].files[0].sha256
    service.blobs.path(sha).unlink()
    assert service.fire_due(berlin(3, 3, 0, 1)) == []
    skipped = service.get_schedule(created.id).skipped
    assert skipped[0].at == berlin(3, 3).timestamp() and skipped[0].reason.startswith("not started: ")
    assert "were not uploaded" in skipped[0].reason
    assert service.get_schedule(created.id).next_fire_at == berlin(4, 3).timestamp()


def test_unknown_and_ambiguous_schedule_ids(jobs_data_dir):
    service = make_service(jobs_data_dir)
    with pytest.raises(NotFound, match="no schedule"):
        service.get_schedule("sch-0123")
    with pytest.raises(NotFound, match="is not a schedule id"):
        service.pause_schedule("../etc")
    ids = [service.create_schedule(request()).id for _ in range(20)]
    assert service.resolve_schedule_id(ids[0]) == ids[0]
    assert service.resolve_schedule_id(ids[0].removeprefix("sch-")) == ids[0]
    assert sorted(s.id for s in service.list_schedules()) == sorted(ids)  # created at the same clock time
    shared = next(i[:5] for i in ids if sum(j.startswith(i[:5]) for j in ids) > 1)  # 20 ids, 16 hex digits
    with pytest.raises(NotFound, match="matches several schedules"):
        service.get_schedule(shared)


def test_listing_schedules_reads_their_last_runs_in_one_query(jobs_data_dir):
    """The Lab polls the list while the view is shown: its queries do not grow with the schedules."""
    from sqlalchemy import event

    service = make_service(jobs_data_dir)
    statements: list[str] = []
    event.listen(service.engine, "before_cursor_execute", lambda conn, cursor, sql, *rest: statements.append(sql))

    def queries_of_a_listing(expected: int) -> int:
        statements.clear()
        listed = service.list_schedules()
        assert len(listed) == expected and all(s.last_status == "SUCCEEDED" for s in listed)
        return len(statements)

    def add_fired_schedules(count: int, day: int) -> None:
        for _ in range(count):
            service.create_schedule(request("0 3 * * *"))
        for run_id in service.fire_due(berlin(day, 3, 0, 5)):
            service.dispatch()
            assert wait_finished(service, run_id).status == "SUCCEEDED"

    add_fired_schedules(1, 2)
    one = queries_of_a_listing(1)
    set_clock(service, berlin(2, 4))
    add_fired_schedules(5, 3)
    assert queries_of_a_listing(6) == one
