"""Secrets are masked wherever a job's text is stored: log chunks, progress messages, display frames, the
error of the result; a value too short to mask is refused, and one stored before that rule is not
masked character by character."""

from __future__ import annotations

import json
import sqlite3
import textwrap

import pytest
from helpers import wait_finished

from jupyter_jobs.errors import JobsError
from jupyter_jobs.runner.protocol import DISPLAY_MARKER
from jupyter_jobs.service.schemas import SubmitRequest
from jupyter_jobs.service.service import JobsService
from jupyter_jobs.settings import JobsSettings
from jupyter_jobs.spec.models import JobSpec

#: Non-ASCII, so a frame's JSON (ensure_ascii) carries it escaped as \u00e9: the stream's text never
#: shows it as typed, only the decoded event would.
SECRET = "s\u00e9cret-v\u00e4lue-42"

JOB = textwrap.dedent(f'''\
    python3 - <<'EOF'
    import json, os, sys
    token = os.environ["API_TOKEN"]
    print("token:", token, flush=True)
    print("half", token[:5], end="", flush=True)
    print(token[5:], flush=True)
    print("on stderr", token, file=sys.stderr, flush=True)
    with open(os.environ["JOB_PROGRESS_FILENAME"], "a") as fh:
        fh.write(json.dumps({{"progress": 50, "message": "halfway with " + token}}) + "\\n")
        fh.write("not json " + token + "\\n")
    frame = {{"msg_type": "display_data", "data": {{"text/plain": "shown " + token}}, "metadata": {{}}}}
    sys.stdout.write({DISPLAY_MARKER!r} + json.dumps(frame) + "\\n")
    error = {{"msg_type": "error", "ename": "ValueError", "evalue": "bad " + token,
             "traceback": ["Traceback", "ValueError: bad " + token]}}
    sys.stdout.write({DISPLAY_MARKER!r} + json.dumps(error) + "\\n")
    sys.stdout.flush()
    sys.exit(1)
    EOF
    ''')


def forms(secret: str) -> list[bytes]:
    """Every way the value could be written down in a file: as typed, and JSON-escaped."""
    return [secret.encode(), json.dumps(secret).strip('"').encode(), json.dumps(secret, ensure_ascii=False)
            .strip('"').encode()]


def test_a_secret_appears_nowhere_a_job_text_is_stored(jobs_data_dir):
    service = JobsService(JobsSettings(data_dir=str(jobs_data_dir)))
    service.secrets.set("API_TOKEN", SECRET)
    run = wait_finished(service, service.submit(SubmitRequest(spec=JobSpec(cmd=JOB))).id)
    assert run.status == "FAILED"
    assert run.error == "ValueError: bad ****", run.error
    assert run.progress == 50 and run.progress_message == "halfway with ****"
    stdout = service.logs(run.id, "stdout")
    assert "token: ****" in stdout and "half ****" in stdout
    assert "on stderr ****" in service.logs(run.id, "stderr")
    events, _ = service.events(run.id)
    displays = [e for e in events if e["type"] == "display"]
    assert displays[0]["data"]["text/plain"] == "shown ****"
    assert displays[1]["evalue"] == "bad ****" and displays[1]["traceback"][1] == "ValueError: bad ****"
    assert any("not json ****" in e.get("text", "") for e in events if e.get("stream") == "system")
    # ... and in no file at all: the run dir, the database, what `get --format json` and the API show
    stored = [(p, p.read_bytes()) for p in jobs_data_dir.rglob("*") if p.is_file() and p.name != "secrets.json"]
    stored.append(("get", service.get(run.id).model_dump_json().encode()))
    stored.append(("events", json.dumps(events).encode()))
    with sqlite3.connect(jobs_data_dir / "jobs.db") as db:
        stored.append(("db row", repr(db.execute("SELECT * FROM runs").fetchall()).encode()))
    for where, data in stored:
        for form in forms(SECRET):
            assert form not in data, where


@pytest.mark.parametrize("value", ["", "a", "ab", "abc"])
def test_a_secret_too_short_to_mask_is_refused(jobs_data_dir, value):
    service = JobsService(JobsSettings(data_dir=str(jobs_data_dir)))
    with pytest.raises(JobsError) as info:
        service.secrets.set("PIN", value)
    assert "PIN" in str(info.value) and ("4 characters" in str(info.value) or "empty" in str(info.value))
    assert service.secrets.names() == []
    service.secrets.set("PIN", "1234")
    assert service.secrets.names() == ["PIN"]


def test_a_short_secret_stored_before_the_rule_is_not_masked_char_by_char(jobs_data_dir):
    """One such value rewrote every "7" in all logs; now it is left alone, and the run's system log says so."""
    (jobs_data_dir / "secrets.json").write_text(json.dumps({"PIN": "7", "TOKEN": "long-enough-token"}))
    service = JobsService(JobsSettings(data_dir=str(jobs_data_dir)))
    run = wait_finished(service, service.submit(SubmitRequest(spec=JobSpec(cmd='echo 1777 "$TOKEN"'))).id)
    assert run.status == "SUCCEEDED"
    assert service.logs(run.id, "stdout") == "1777 ****\n"
    system = service.logs(run.id, "system")
    assert "PIN" in system and "not masked" in system, system
