"""RemoteClient end to end against the live test server, and find_server()."""

from __future__ import annotations

import asyncio
import json
import socket
import sys

import pytest

from jupyter_jobs.capture.files import capture_inputs
from jupyter_jobs.client import EmbeddedClient
from jupyter_jobs.errors import Conflict, JobsError, NotFound
from jupyter_jobs.remote import RemoteClient, _running_servers, find_server
from jupyter_jobs.service.schemas import ForkRequest, Origin, SubmitRequest
from jupyter_jobs.spec.models import FileRef, JobSpec

SCRIPT = """
import os, sys, time
for i in range(int(sys.argv[1])):
    print(f"step {i}", flush=True)
    time.sleep(0.1)
print("to stderr", file=sys.stderr)
os.makedirs("out", exist_ok=True)
open("out/result.txt", "w").write(open("data/in.txt").read()[::-1])
open("out/big.bin", "wb").write(b"x" * 5000)
"""


@pytest.fixture
def server_url(jp_serverapp, http_server, jp_http_port, jp_base_url):
    return f"http://127.0.0.1:{jp_http_port}{jp_base_url}"


@pytest.fixture
def remote(server_url, jp_serverapp):
    return RemoteClient(server_url, jp_serverapp.identity_provider.token)


def in_thread(fn, *args, **kwargs):
    """The client blocks; the test server shares this event loop, so call it from a thread."""
    return asyncio.to_thread(fn, *args, **kwargs)


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    (root / "data" / "in.txt").write_text("abcdef")
    (root / "job.py").write_text(SCRIPT)
    return root


def test_remote_client_has_every_public_method_of_embedded_client():
    public = {name for name in vars(EmbeddedClient) if not name.startswith("_")} - {"service"}
    assert public <= set(dir(RemoteClient)), public - set(dir(RemoteClient))


async def test_secrets_over_rest_reach_jobs_and_never_come_back(remote, api):
    await in_thread(remote.set_secret, "DB_PASSWORD", "hunter2-very-secret")
    assert await in_thread(remote.secret_names) == ["DB_PASSWORD"]
    status, body, _ = await api("secrets")
    assert status == 200 and b"hunter2" not in json.dumps(body).encode()
    run = await in_thread(remote.submit, SubmitRequest(spec=JobSpec(cmd='echo "pw=$DB_PASSWORD"')))
    events = await in_thread(lambda: list(remote.follow(run.id)))
    assert events[-1]["status"] == "SUCCEEDED"
    assert await in_thread(remote.logs, run.id, "stdout") == "pw=****\n"
    status, body, _ = await api("runs", run.id)
    assert b"hunter2" not in json.dumps(body).encode()
    status, body, _ = await api("secrets", "bad name!", method="PUT", body={"value": "x"})
    assert status in (400, 404, 422)
    await in_thread(remote.delete_secret, "DB_PASSWORD")
    assert await in_thread(remote.secret_names) == []
    with pytest.raises(NotFound):
        await in_thread(remote.delete_secret, "DB_PASSWORD")


async def test_remote_client_end_to_end(remote, project, tmp_path):
    spec = JobSpec(name="remote", cmd=f"{sys.executable} job.py ${{n}}", args={"n": "3"},
                   inputs=[FileRef(path="job.py"), FileRef(path="data/", var="DATA")],
                   outputs=[FileRef(path="out/")])
    settings = await in_thread(lambda: remote.settings)
    captured = capture_inputs(spec.inputs, project, settings.max_file_size, settings.max_upload_size)
    report = await in_thread(remote.upload, captured)
    assert (report.new_files, report.stored_files) == (2, 0) and report.new_bytes > 0
    report = await in_thread(remote.upload, captured)
    assert (report.new_files, report.stored_files) == (0, 2)

    request = SubmitRequest(spec=spec, bundle=captured.bundle,
                            origin=Origin(base_dir=str(project), host=socket.gethostname()))
    run = await in_thread(remote.submit, request)
    assert run.status in ("QUEUED", "PREPARING", "RUNNING")
    events = await in_thread(lambda: list(remote.follow(run.id)))
    assert events[-1]["type"] == "result" and events[-1]["status"] == "SUCCEEDED", events[-1]
    stdout = "".join(e["text"] for e in events if e["type"] == "log" and e["stream"] == "stdout")
    assert stdout.splitlines() == ["step 0", "step 1", "step 2"]
    # resuming from an offset gives the rest, nothing twice
    all_events, end = await in_thread(remote.events, run.id)
    assert [e["type"] for e in all_events] == [e["type"] for e in events]
    assert await in_thread(remote.events, run.id, end) == ([], end)

    done = await in_thread(remote.get, run.id[:7])
    assert done.id == run.id and done.status == "SUCCEEDED" and done.exit_code == 0
    assert await in_thread(remote.resolve_id, run.id[:6]) == run.id
    assert [r.id for r in await in_thread(remote.list, status=["SUCCEEDED"])] == [run.id]
    assert await in_thread(remote.list, query="no-such-name") == []
    assert (await in_thread(remote.logs, run.id, "stderr")).strip() == "to stderr"

    # outputs: to their declared place (relative to the submitting folder), smallest first within a limit
    got = await in_thread(remote.download_outputs, done)
    assert (project / "out" / "result.txt").read_text() == "fedcba"
    assert (project / "out" / "big.bin").stat().st_size == 5000 and got.bytes == 5006
    elsewhere = tmp_path / "elsewhere"
    got = await in_thread(remote.download_outputs, done, elsewhere, 100)
    assert [p.name for p in got.files] == ["result.txt"] and got.skipped == ["out/big.bin"]
    assert (elsewhere / "out" / "result.txt").read_text() == "fedcba"
    logs = await in_thread(remote.download_logs, run.id, elsewhere)
    assert {p.name for p in logs} >= {"stdout.log", "stderr.log", "events.jsonl"}
    assert (elsewhere / "logs" / "stdout.log").read_text().startswith("step 0")

    types = await in_thread(remote.instance_types)
    assert any(t.name == "c1.4" and reason is None for t, reason in types)
    kept = await in_thread(remote.set_ttl, run.id, None)
    assert kept.expires_at is None

    child = await in_thread(remote.fork, run.id, ForkRequest(args={"n": "1"}))
    assert child.parent_id == run.id
    child_events = await in_thread(lambda: list(remote.follow(child.id)))
    assert child_events[-1]["status"] == "SUCCEEDED"

    sleeper = await in_thread(remote.submit, SubmitRequest(spec=JobSpec(cmd="sleep 30")))
    with pytest.raises(Conflict):
        await in_thread(remote.delete, sleeper.id)
    for _ in range(200):
        if (await in_thread(remote.get, sleeper.id)).status == "RUNNING":
            break
        await asyncio.sleep(0.05)
    await in_thread(remote.cancel, sleeper.id)
    tail = await in_thread(lambda: list(remote.follow(sleeper.id)))
    assert tail[-1]["type"] == "result" and tail[-1]["status"] == "CANCELLED"
    await in_thread(remote.delete, sleeper.id)
    with pytest.raises(NotFound):
        await in_thread(remote.get, sleeper.id)
    assert set(await in_thread(remote.cleanup)) >= {"runs", "blob_bytes"}


async def test_remote_errors_are_jobs_errors(server_url, remote):
    with pytest.raises(NotFound, match="no job"):
        await in_thread(remote.get, "zzzzzz")
    with pytest.raises(JobsError) as info:
        await in_thread(remote.submit, SubmitRequest(spec=JobSpec(cmd="true", instance_types=["zz9"])))
    assert info.value.status == 422 and "unknown instance type" in str(info.value)
    wrong = RemoteClient(server_url, "not-the-token")
    with pytest.raises(JobsError, match="refused") as info:
        await in_thread(wrong.list)
    assert "JUPYTER_JOBS_TOKEN" in info.value.hint
    down = RemoteClient("http://127.0.0.1:9/", "t", timeout=2)
    with pytest.raises(JobsError, match="cannot reach"):
        await in_thread(down.list)


async def test_find_server(jp_serverapp, jp_root_dir, server_url, monkeypatch, tmp_path):
    from jupyter_server.serverapp import list_running_servers

    monkeypatch.delenv("JUPYTER_JOBS_URL", raising=False)
    assert [s["url"] for s in _running_servers()] == [s["url"] for s in list_running_servers()]
    inside = jp_root_dir / "sub" / "dir"
    inside.mkdir(parents=True)
    found = await in_thread(find_server, inside)
    assert found is not None
    url, token = found
    assert url.rstrip("/").endswith(jp_serverapp.base_url.rstrip("/")) and token == jp_serverapp.identity_provider.token
    assert await in_thread(find_server, tmp_path.parent.parent) is None  # not below any server's root
    monkeypatch.setenv("JUPYTER_JOBS_URL", "http://jobs.example:8888/")
    monkeypatch.setenv("JUPYTER_JOBS_TOKEN", "abc")
    assert find_server(inside) == ("http://jobs.example:8888/", "abc")
    monkeypatch.setenv("JUPYTER_JOBS_URL", "embedded")
    assert find_server(inside) is None
