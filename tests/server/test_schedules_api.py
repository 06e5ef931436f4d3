"""The schedule routes on a real server, and the server's loop firing a due schedule (its clock set by the
test); auth on every route is checked by test_routes.py, which walks the route table."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone

import pytest
from jupyter_server.auth import Authorizer
from test_ui_routes import make_notebook

TIMING = {"cron": "0 3 * * *", "timezone": "Europe/Berlin"}


def schedule_body(cmd: str = "echo hi", **timing) -> dict:
    return {"timing": {**TIMING, **timing}, "job": {"spec": {"cmd": cmd, "name": "nightly"}}}


async def test_create_read_pause_resume_and_delete(api):
    code, created, response = await api("schedules", method="POST", body=schedule_body(missed="run-once"))
    assert code == 201, created
    assert response.headers["Location"].endswith(f"/jobs/schedules/{created['id']}")
    assert created["name"] == "nightly" and created["description"] == "At 03:00 AM"
    assert created["missed"] == "run-once" and created["overlap"] == "skip" and len(created["next_times"]) == 3
    code, listed, _ = await api("schedules")
    assert code == 200 and [s["id"] for s in listed["schedules"]] == [created["id"]]
    code, one, _ = await api("schedules", created["id"][:8])
    assert code == 200 and one["id"] == created["id"]

    code, paused, _ = await api("schedules", created["id"], "pause", method="POST")
    assert code == 200 and paused["paused"] is True and paused["next_fire_at"] is None
    code, resumed, _ = await api("schedules", created["id"], "resume", method="POST")
    assert code == 200 and resumed["paused"] is False and resumed["next_fire_at"] == created["next_fire_at"]
    code, runs, _ = await api("schedules", created["id"], "runs")
    assert code == 200 and runs["runs"] == []

    code, _, _ = await api("schedules", created["id"], method="DELETE")
    assert code == 204
    for parts, method in [((created["id"],), "GET"), ((created["id"],), "DELETE"),
                          ((created["id"], "pause"), "POST"), ((created["id"], "resume"), "POST")]:
        code, err, _ = await api("schedules", *parts, method=method)
        assert code == 404 and "no schedule" in err["message"], (parts, err)


async def test_bad_input_is_a_4xx_naming_the_field(api):
    for timing, field, words in [({"cron": "0 3 * *"}, "timing.cron", "has 4 fields"),
                                 ({"cron": "0 25 * * *"}, "timing.cron", "Bad hour"),
                                 ({"timezone": "Mars/Olympus"}, "timing.timezone", "IANA time zone"),
                                 ({"overlap": "never"}, "timing.overlap", "'skip' or 'queue'")]:
        code, err, _ = await api("schedules", method="POST", body=schedule_body(**timing))
        assert code == 422 and err["field"] == field and words in err["message"], err
    body = schedule_body()
    body["job"]["spec"]["instance_types"] = ["no-such-type"]
    code, err, _ = await api("schedules", method="POST", body=body)
    assert code == 422 and "no-such-type" in err["message"], err
    code, err, _ = await api("schedules", method="POST", body={**schedule_body(), "bogus": 1})
    assert code == 422 and err["field"] == "bogus", err
    code, err, _ = await api("schedules", method="POST", raw=b"{not json")
    assert code == 400 and "malformed JSON" in err["message"], err
    code, listed, _ = await api("schedules")
    assert listed["schedules"] == []

    for params, field in [({}, "cron"), ({"cron": "every day"}, "cron"),
                          ({"cron": "0 3 * * *", "timezone": "Nowhere"}, "timezone")]:
        code, err, _ = await api("schedules", "preview", params=params)
        assert code == 400 and err["field"] == field and err["message"].startswith(f"{field}: "), (params, err)
    code, preview, _ = await api("schedules", "preview", params={"cron": "30 6 * * 1-5", "timezone": "Asia/Tokyo"})
    assert code == 200 and preview["description"] == "At 06:30 AM, Monday through Friday"
    assert len(preview["next_times"]) == 3 and preview["next_times"] == sorted(preview["next_times"])

    for bad in ("sch-0123", "..", "sch-zz"):
        code, err, _ = await api("schedules", bad, "runs")
        assert code == 404, (bad, err)


async def test_schedule_a_notebook_under_the_root(api, jp_root_dir):
    make_notebook(jp_root_dir / "sub")
    body = {"path": "sub/nb.ipynb", "parameters": {"alpha": 3}, "timing": {"cron": "15 * * * *"}}
    code, created, _ = await api("schedules", "notebook", method="POST", body=body)
    assert code == 201, created
    assert created["kind"] == "notebook" and created["parameters"] == {"alpha": "3"}
    assert created["source"] == str(jp_root_dir / "sub" / "nb.ipynb") and created["timezone"] == "UTC"
    assert created["description"] == "At 15 minutes past the hour"
    for changes, status in [({"path": "../nb.ipynb"}, 422), ({"path": "sub/missing.ipynb"}, 404),
                            ({"parameters": {"alpah": 1}}, 400), ({"timing": {"cron": "x"}}, 422)]:
        code, err, _ = await api("schedules", "notebook", method="POST", body={**body, **changes})
        assert code == status and err["message"], (changes, err)
    code, listed, _ = await api("schedules")
    assert [s["id"] for s in listed["schedules"]] == [created["id"]]


class NoExecute(Authorizer):
    """Reads and writes allowed, starting jobs refused."""

    def is_authorized(self, handler, user, action, resource):
        return action != "execute"


@pytest.mark.parametrize("jobs_extra_config", [{"ServerApp": {"authorizer_class": NoExecute}}], indirect=True)
async def test_what_starts_jobs_later_asks_for_execute(api, jobs_app, jobs_extra_config, jp_root_dir):
    """Creating a schedule (of a job or a notebook) and resuming one start jobs: without `execute`, 403."""
    make_notebook(jp_root_dir)
    code, _, _ = await api("schedules", method="POST", body=schedule_body())
    assert code == 403
    code, _, _ = await api("schedules", "notebook", method="POST", body={"path": "nb.ipynb", "timing": TIMING})
    assert code == 403
    from jupyter_jobs.service.schemas import ScheduleRequest

    service = await jobs_app.service()
    created = await asyncio.to_thread(service.create_schedule, ScheduleRequest.model_validate(schedule_body()))
    code, paused, _ = await api("schedules", created.id, "pause", method="POST")
    assert code == 200 and paused["paused"]
    code, _, _ = await api("schedules", created.id, "resume", method="POST")
    assert code == 403
    code, listed, _ = await api("schedules")
    assert code == 200 and listed["schedules"][0]["paused"] is True


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


async def poll(check, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met before the deadline")


@pytest.mark.parametrize("jobs_limits", [{"schedule_poll_seconds": 0.1}], indirect=True)
async def test_the_server_loop_fires_a_due_schedule_once_and_logs_its_failure(api, jobs_app, wait_run):
    records = Records()
    jobs_app.log.addHandler(records)
    try:
        code, created, _ = await api("schedules", method="POST", body=schedule_body(cmd="echo fired; exit 3"))
        assert code == 201, created
        tick = created["next_fire_at"]
        jobs_app.clock = lambda: datetime.fromtimestamp(tick + 1, timezone.utc)

        async def fired():
            code, runs, _ = await api("schedules", created["id"], "runs")
            return runs["runs"]

        runs = await poll(fired)
        assert len(runs) == 1 and runs[0]["schedule_id"] == created["id"]
        run = await wait_run(runs[0]["id"])
        assert run["status"] == "FAILED" and run["exit_code"] == 3

        async def warned():
            return [m for m in records.messages if run["id"] in m and "'nightly'" in m and created["id"] in m]

        assert "FAILED" in (await poll(warned))[0]
        # The loop went on polling all along, with the clock still on the tick: fired once.
        assert len(await fired()) == 1
        code, schedule, _ = await api("schedules", created["id"])
        assert schedule["last_run_id"] == run["id"] and schedule["last_status"] == "FAILED"
        assert schedule["run_count"] == 1 and schedule["next_fire_at"] == created["next_times"][1]
    finally:
        jobs_app.log.removeHandler(records)


def test_the_services_warnings_reach_the_server_log(jobs_app):
    """A tick that could not start is logged by `service.firing`: the server's log shows it."""
    records = Records()
    jobs_app.log.addHandler(records)
    try:
        logging.getLogger("jupyter_jobs.service.firing").warning("schedule %s: not started", "nightly")
    finally:
        jobs_app.log.removeHandler(records)
    assert records.messages == ["schedule nightly: not started"]


async def test_remote_client_schedules_a_config_job_with_its_inputs(jp_serverapp, http_server, jp_http_port,
                                                                     jp_base_url, tmp_path):
    from jupyter_jobs.client import EmbeddedClient
    from jupyter_jobs.errors import JobsError, NotFound
    from jupyter_jobs.remote import RemoteClient
    from jupyter_jobs.service.schemas import ScheduleTiming
    from jupyter_jobs.spec.models import FileRef, JobSpec
    from jupyter_jobs.submit import capture, schedule

    remote = RemoteClient(f"http://127.0.0.1:{jp_http_port}{jp_base_url}", jp_serverapp.identity_provider.token)
    (tmp_path / "in.txt").write_text("data")
    spec = JobSpec(name="with-input", cmd="cat ${IN}", inputs=[FileRef(path="in.txt", var="IN")])

    def scenario():
        captured, _ = capture(spec, tmp_path, remote.settings)
        timing = ScheduleTiming(cron="0 6 * * 1", timezone="Europe/Moscow", overlap="queue")
        created = schedule(remote, spec, captured, tmp_path, "job.yaml", timing)
        assert created.name == "with-input" and created.source == "job.yaml" and created.overlap == "queue"
        assert created.description == "At 06:00 AM, only on Monday"
        assert [s.id for s in remote.schedules()] == [created.id]
        assert remote.resolve_schedule_id(created.id[:6]) == created.id
        assert remote.pause_schedule(created.id).paused and not remote.resume_schedule(created.id).paused
        assert remote.schedule_runs(created.id) == []
        assert remote.cron_preview("0 6 * * 1", "Europe/Moscow").next_times == created.next_times
        with pytest.raises(JobsError, match="^cron: "):
            remote.cron_preview("0 6 * *", "UTC")
        remote.delete_schedule(created.id)
        with pytest.raises(NotFound):
            remote.schedule(created.id)
        assert remote.schedule_note is None

    await asyncio.to_thread(scenario)
    embedded = EmbeddedClient()  # in-process, without a server: nothing would fire its schedules
    assert "no Jupyter server" in embedded.schedule_note
    embedded.service.close()
