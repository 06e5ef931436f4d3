"""The REST API with real local jobs: submit, follow, logs, outputs, blobs, cancel, fork, delete."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import sys
import time
import zipfile

import pytest

PY = sys.executable

SCRIPT = b"""
import os, sys, time
n = int(sys.argv[1])
for i in range(n):
    print(f"line {i}", flush=True)
    time.sleep(0.2)
os.makedirs("out/sub", exist_ok=True)
open("out/result.txt", "w").write(open("data.txt").read().upper())
open("out/sub/n.txt", "w").write(str(n))
"""


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_input(ref: str, data: bytes) -> dict:
    return {"ref": ref, "files": [{"path": "", "sha256": sha(data), "size": len(data), "mode": 0o644}]}


async def upload(api, data: bytes) -> None:
    code, body, _ = await api("blobs", sha(data), method="PUT", raw=data)
    assert code in (200, 201), body


def job_request(n: int = 3, **spec) -> dict:
    data = b"hello server\n"
    return {
        "spec": {"name": "api-job", "cmd": f"{PY} job.py ${{n}}", "args": {"n": str(n)},
                 "inputs": [{"path": "job.py"}, {"path": "data.txt"}], "outputs": [{"path": "out/"}], **spec},
        "bundle": {"inputs": [file_input("job.py", SCRIPT), file_input("data.txt", data)]},
        "origin": {"source": "test"},
    }


@pytest.fixture
def submit_job(api):
    async def submit(n: int = 3, headers=None, **spec) -> dict:
        await upload(api, SCRIPT)
        await upload(api, b"hello server\n")
        code, run, _ = await api("runs", method="POST", body=job_request(n, **spec), headers=headers)
        assert code == 201, run
        return run

    return submit


def parse_sse(text: str) -> list[tuple[int | None, dict]]:
    out = []
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith(":")]
        data = [line[5:].strip() for line in lines if line.startswith("data:")]
        ids = [int(line[3:].strip()) for line in lines if line.startswith("id:")]
        if data:
            out.append((ids[0] if ids else None, json.loads("\n".join(data))))
    return out


@pytest.fixture
def sse(jp_fetch):
    async def follow(run_id: str, headers=None, params=None):
        chunks: list[tuple[float, bytes]] = []
        response = await jp_fetch("jobs", "runs", run_id, "events", headers=headers or {}, params=params,
                                  streaming_callback=lambda c: chunks.append((time.time(), c)),
                                  request_timeout=120)
        assert response.headers["Content-Type"].startswith("text/event-stream")
        return chunks

    return follow


@pytest.fixture
def raw_get(http_server_client, jp_auth_header, jp_base_url):
    """GET a URL path exactly as written (no escaping), with the token."""
    from tornado.httpclient import HTTPClientError

    async def get(path: str) -> tuple[int, bytes]:
        try:
            response = await http_server_client.fetch(jp_base_url + path, headers=jp_auth_header)
        except HTTPClientError as err:
            response = err.response
        return response.code, response.body

    return get


async def test_submit_follow_logs_and_outputs(api, submit_job, sse, wait_run, jobs_data_dir, raw_get):
    run = await submit_job(n=4)
    assert run["status"] in ("QUEUED", "PREPARING", "RUNNING") and run["origin"]["user"]
    # -- live follow over server-sent events, until the result event
    chunks = await sse(run["id"][:8])
    events = parse_sse(b"".join(c for _, c in chunks).decode())
    kinds = [e["type"] for _, e in events]
    assert kinds[-1] == "result" and events[-1][1]["status"] == "SUCCEEDED"
    lines = "".join(e["text"] for _, e in events if e["type"] == "log" and e["stream"] == "stdout")
    assert lines.splitlines() == [f"line {i}" for i in range(4)]
    ids = [i for i, _ in events]
    assert all(i is not None for i in ids) and ids == sorted(ids)
    done = await wait_run(run["id"])
    first_log = next(t for t, c in chunks if b'"line 0' in c)
    assert first_log < done["finished_at"], "events arrived only after the job ended"
    # -- resume from an id: only what came after
    middle_id, middle = events[len(events) // 2]
    rest = parse_sse(b"".join(c for _, c in await sse(run["id"], headers={"Last-Event-ID": str(middle_id)}))
                     .decode())
    assert [e for _, e in rest] == [e for _, e in events[len(events) // 2 + 1:]]
    rest2 = parse_sse(b"".join(c for _, c in await sse(run["id"], params={"offset": middle_id})).decode())
    assert rest2 == rest
    # -- range reads of the events, and the log as text
    code, page, _ = await api("runs", run["id"], "logs")
    assert code == 200 and page["finished"] and page["offset"] == 0
    assert [e["type"] for e in page["events"]] == kinds
    code, page2, _ = await api("runs", run["id"], "logs", params={"offset": page["next_offset"]})
    assert page2["events"] == [] and page2["next_offset"] == page["next_offset"]
    code, only, _ = await api("runs", run["id"], "logs", params={"stream": "stdout"})
    assert {e["stream"] for e in only["events"]} == {"stdout"}
    code, text, response = await api("runs", run["id"], "logs", params={"stream": "stdout", "format": "text"})
    assert code == 200 and response.headers["Content-Type"].startswith("text/plain")
    assert text.decode().splitlines() == [f"line {i}" for i in range(4)]
    code, err, _ = await api("runs", run["id"], "logs", params={"stream": "nope"})
    assert code == 422 and err["field"] == "stream"
    code, err, _ = await api("runs", run["id"], "logs", params={"offset": "-1"})
    assert code == 422 and err["field"] == "offset"
    # -- outputs: manifest, one file, all as zip
    code, manifest, _ = await api("runs", run["id"], "outputs")
    assert code == 200 and manifest["status"] == "SUCCEEDED"
    files = {f["path"]: f["size"] for entry in manifest["outputs"] for f in entry["files"]}
    assert set(files) == {"out/result.txt", "out/sub/n.txt"} and manifest["total_bytes"] == sum(files.values())
    code, body, response = await api("runs", run["id"], "outputs", "out", "result.txt")
    assert code == 200 and body == b"HELLO SERVER\n"
    assert "attachment" in response.headers["Content-Disposition"]
    code, body, response = await api("runs", run["id"], "outputs.zip")
    assert code == 200 and response.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert sorted(zf.namelist()) == ["out/result.txt", "out/sub/n.txt"]
        assert zf.read("out/sub/n.txt") == b"4"
    # -- path traversal is refused, however it is spelled (sent raw: jp_fetch would escape the escapes)
    secret = jobs_data_dir / "secret.txt"
    secret.write_text("no")
    for path in ("../plan.json", "out/../../plan.json", "..%2Fplan.json", "%2e%2e/%2e%2e/plan.json",
                 "out/..%2F..%2Fplan.json", "%2Fetc%2Fpasswd", "/etc/passwd", "out%2F..%2F..%2F..%2F..%2Fsecret.txt",
                 "out/%2E%2E/%2E%2E/result.json", "out%5C..%5C..%5Cplan.json", "out/%00x"):
        code, body = await raw_get(f"jobs/runs/{run['id']}/outputs/{path}")
        assert code in (400, 404), (path, code)
        assert json.loads(body)["message"], path
    code, body = await raw_get(f"jobs/runs/{run['id']}/outputs/out%2Fresult.txt")  # escapes are fine
    assert code == 200 and body == b"HELLO SERVER\n"
    code, err, _ = await api("runs", run["id"], "outputs", "missing.txt")
    assert code == 404
    code, err, _ = await api("runs", run["id"], "outputs", "out")  # a folder is not a file
    assert code == 404


async def test_outputs_refuse_symlinks_out_of_the_run(api, submit_job, wait_run, jobs_data_dir, tmp_path):
    run = await submit_job(n=1)
    await wait_run(run["id"])
    outside = tmp_path / "outside.txt"
    outside.write_text("private")
    outputs = next(jobs_data_dir.glob(f"**/{run['id']}/outputs"))
    (outputs / "out" / "link.txt").symlink_to(outside)
    code, err, _ = await api("runs", run["id"], "outputs", "out", "link.txt")
    assert code == 404
    code, body, _ = await api("runs", run["id"], "outputs.zip")
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert "out/link.txt" not in zf.namelist()


async def test_list_filters_and_prefixes(api, submit_job, wait_run):
    first = await submit_job(n=1)
    await wait_run(first["id"])
    second = await submit_job(n=1, name="other-name")
    await wait_run(second["id"])
    code, listing, _ = await api("runs")
    assert [r["id"] for r in listing["runs"]] == [second["id"], first["id"]]
    code, listing, _ = await api("runs", params={"q": "other"})
    assert [r["id"] for r in listing["runs"]] == [second["id"]]
    code, listing, _ = await api("runs", params={"status": "SUCCEEDED,FAILED", "limit": 1, "offset": 1})
    assert [r["id"] for r in listing["runs"]] == [first["id"]] and listing["limit"] == 1, listing
    code, listing, _ = await api("runs", params={"status": "QUEUED"})
    assert listing["runs"] == []
    code, run, _ = await api("runs", first["id"][:9])
    assert code == 200 and run["id"] == first["id"]


async def test_idempotent_resubmit_makes_one_run(api, jp_fetch):
    body = {"spec": {"cmd": "echo once"}}
    code, first, r1 = await api("runs", method="POST", body=body, headers={"Idempotency-Key": "k-1"})
    code2, again, r2 = await api("runs", method="POST", body=body, headers={"Idempotency-Key": "k-1"})
    assert (code, code2) == (201, 200) and first["id"] == again["id"]
    assert r2.headers.get("Idempotent-Replayed") == "true"
    code3, same, _ = await api("runs", method="POST", body={**body, "idempotency_key": "k-1"})
    assert code3 == 200 and same["id"] == first["id"]
    code, listing, _ = await api("runs")
    assert [r["id"] for r in listing["runs"]] == [first["id"]]
    code, err, _ = await api("runs", method="POST", body={**body, "idempotency_key": "k-2"},
                             headers={"Idempotency-Key": "k-1"})
    assert code == 422 and err["field"] == "idempotency_key"
    code, err, _ = await api("runs", method="POST", body=body, headers={"Idempotency-Key": "x" * 200})
    assert code == 422


async def test_delete_a_running_job_is_409_then_cancel_and_delete(api, wait_run):
    code, run, _ = await api("runs", method="POST", body={"spec": {"cmd": "sleep 30"}})
    assert code == 201
    code, err, _ = await api("runs", run["id"], method="DELETE")
    assert code == 409 and "cancel it first" in err["hint"]
    code, err, _ = await api("runs", run["id"], "cancel", method="POST", raw=b"{graceful")
    assert code == 400
    code, err, _ = await api("runs", run["id"], "cancel", method="POST", body={"graceful": "maybe"})
    assert code == 422 and err["field"] == "graceful"
    for _ in range(300):  # cancelling while the runner still starts can lose the run (a service matter)
        code, state, _ = await api("runs", run["id"])
        if state["status"] == "RUNNING":
            break
        await asyncio.sleep(0.05)
    code, cancelled, _ = await api("runs", run["id"], "cancel", method="POST", body={"graceful": False})
    assert code == 200
    done = await wait_run(run["id"])
    assert done["status"] == "CANCELLED"
    code, cancelled, _ = await api("runs", run["id"], "cancel", method="POST")  # no body: defaults
    assert code == 200 and cancelled["status"] == "CANCELLED"
    code, body, _ = await api("runs", run["id"], method="DELETE")
    assert code == 204 and not body
    code, err, _ = await api("runs", run["id"])
    assert code == 404


async def test_ttl_fork_and_cleanup(api, submit_job, wait_run):
    run = await submit_job(n=1)
    await wait_run(run["id"])
    code, kept, _ = await api("runs", run["id"], method="PATCH", body={"ttl_days": None})
    assert code == 200 and kept["expires_at"] is None
    code, short, _ = await api("runs", run["id"], method="PATCH", body={"ttl_days": 1.5})
    assert short["expires_at"] == pytest.approx(run["created_at"] + 1.5 * 86400)
    code, err, _ = await api("runs", run["id"], method="PATCH", body={"ttl_days": -1})
    assert code == 422 and err["field"] == "ttl_days"
    code, err, _ = await api("runs", run["id"], method="PATCH", body={})
    assert code == 422 and err["field"] == "ttl_days"
    code, child, _ = await api("runs", run["id"], "fork", method="POST", body={"args": {"n": "2"}},
                               headers={"Idempotency-Key": "fork-1"})
    assert code == 201 and child["parent_id"] == run["id"] and child["spec"]["args"] == {"n": "2"}
    code, again, _ = await api("runs", run["id"], "fork", method="POST", body={"args": {"n": "2"}},
                               headers={"Idempotency-Key": "fork-1"})
    assert code == 200 and again["id"] == child["id"]
    code, err, _ = await api("runs", run["id"], "fork", method="POST", body={"args": {"zz": "2"}})
    assert code == 422 and "no such argument" in err["message"]
    done = await wait_run(child["id"])
    assert done["status"] == "SUCCEEDED"
    code, report, _ = await api("cleanup", method="POST")
    assert code == 200 and set(report) >= {"runs", "blob_bytes"}


async def test_blobs_head_missing_put_and_checksum(api):
    data = b"some bytes" * 1000
    digest = sha(data)
    code, _, _ = await api("blobs", digest, method="HEAD")
    assert code == 404
    code, body, _ = await api("blobs", "missing", method="POST", body={"sha256": [digest, sha(b"x")]})
    assert code == 200 and body["missing"] == sorted([digest, sha(b"x")])
    code, err, _ = await api("blobs", digest, method="PUT", raw=data + b"!")
    assert code == 400 and "checksum" in err["message"]
    code, _, _ = await api("blobs", digest, method="HEAD")
    assert code == 404
    code, stored, _ = await api("blobs", digest, method="PUT", raw=data)
    assert code == 201 and stored == {"sha256": digest, "size": len(data), "stored": True}
    code, _, response = await api("blobs", digest, method="HEAD")
    assert code == 200 and response.headers["X-Blob-Size"] == str(len(data))
    code, body, _ = await api("blobs", "missing", method="POST", body={"sha256": [digest]})
    assert body["missing"] == []
    code, stored, _ = await api("blobs", digest, method="PUT", raw=data)
    assert code == 200 and stored["stored"] is False
    code, err, _ = await api("blobs", "ABC", method="PUT", raw=data)
    assert code == 422 and err["field"] == "sha256"
    code, err, _ = await api("blobs", "ABC", method="HEAD")
    assert code == 422
    code, err, _ = await api("blobs", "missing", method="POST", body={"sha256": "abc"})
    assert code == 422 and err["field"] == "sha256"


async def test_a_big_blob_streams_in_chunks(api, jobs_data_dir):
    data = bytes(range(256)) * (12 * 4096)  # 12 MiB: many chunks, back-pressure on the queue
    digest = sha(data)
    code, stored, _ = await api("blobs", digest, method="PUT", raw=data, request_timeout=120)
    assert code == 201 and stored["size"] == len(data)
    assert (jobs_data_dir / "blobs" / digest[:2] / digest[2:]).read_bytes() == data
    assert not any((jobs_data_dir / "blobs" / "tmp").iterdir())


@pytest.mark.parametrize("jobs_limits", [{"max_file_size": 1000}], indirect=True)
async def test_blob_over_the_size_limit_is_413(api, jobs_data_dir, jobs_limits):
    data = b"y" * 5000
    code, err, _ = await api("blobs", sha(data), method="PUT", raw=data)
    assert code == 413 and err["hint"]
    code, _, _ = await api("blobs", sha(data), method="HEAD")
    assert code == 404
    code, config, _ = await api("config")
    assert config["limits"]["max_file_size"] == 1000
    for _ in range(100):  # the refused upload's temp file is removed after the answer
        if not any((jobs_data_dir / "blobs" / "tmp").iterdir()):
            break
        await asyncio.sleep(0.05)
    assert not any((jobs_data_dir / "blobs" / "tmp").iterdir())


async def test_submit_with_missing_blobs_is_422(api):
    request = job_request()
    code, err, _ = await api("runs", method="POST", body=request)
    assert code == 422 and "not uploaded" in err["message"]
