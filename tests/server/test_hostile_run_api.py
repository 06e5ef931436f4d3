"""The REST API over run directories a hostile job wrote: malformed events, odd output names, an
outputs/ folder swapped for a symlink. Never a 500, never a file from outside the run (issue 10)."""

from __future__ import annotations

import io
import json
import shutil
import zipfile

from test_runs import parse_sse, sse  # noqa: F401 - the fixture

ODD = "a\r\nb\"c.txt"

JOB = r"""
mkdir -p out
printf odd > "out/$(printf 'a\r\nb"c.txt')"
echo fine > out/ok.txt
echo before
printf 'not json\n\377\376\n{"type": 5, "t": 1}\n' >> ../events.jsonl
printf '{"type": "log", "t": 1,\r "stream": "stdout", "text": "kept\\n"}\n' >> ../events.jsonl
echo after
"""


async def hostile_run(api, wait_run) -> dict:
    code, run, _ = await api("runs", method="POST", body={"spec": {"cmd": JOB, "outputs": [{"path": "out/"}]}})
    assert code == 201, run
    return await wait_run(run["id"])


async def test_malformed_events_and_odd_names_never_500(api, wait_run, sse, jobs_data_dir):  # noqa: F811
    run = await hostile_run(api, wait_run)
    assert run["status"] == "SUCCEEDED", run
    events = parse_sse(b"".join(c for _, c in await sse(run["id"])).decode())
    assert events[-1][1]["type"] == "result"
    text = "".join(e["text"] for _, e in events if e["type"] == "log" and e["stream"] == "stdout")
    assert sorted(text.splitlines()) == ["after", "before", "kept"]  # the job wrote "kept" itself
    code, page, _ = await api("runs", run["id"], "logs")
    assert code == 200 and page["skipped"] == 3
    code, body, _ = await api("runs", run["id"], "logs", params={"stream": "stdout", "format": "text"})
    assert code == 200 and sorted(body.decode().splitlines()) == ["after", "before", "kept"]
    code, page, _ = await api("runs", run["id"], "logs", params={"offset": str(10**30)})
    assert code in (200, 422) and page["message" if code == 422 else "events"] is not None
    # an output name with CR, LF and a quote: in the manifest, as a file, in the zip
    code, manifest, _ = await api("runs", run["id"], "outputs")
    assert code == 200
    assert sorted(f["path"] for e in manifest["outputs"] for f in e["files"]) == [f"out/{ODD}", "out/ok.txt"]
    code, body, response = await api("runs", run["id"], "outputs", "out", ODD)
    assert code == 200 and body == b"odd"
    disposition = response.headers["Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition and disposition.startswith("attachment")
    code, body, _ = await api("runs", run["id"], "outputs.zip")
    assert code == 200
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert zf.read(f"out/{ODD}") == b"odd"


async def test_outputs_folder_swapped_for_a_symlink_serves_nothing(api, wait_run, jobs_data_dir, tmp_path):
    run = await hostile_run(api, wait_run)
    outputs = next(jobs_data_dir.glob(f"runs/{run['id']}/outputs"))
    elsewhere = tmp_path / "host"
    (elsewhere / "out").mkdir(parents=True)
    (elsewhere / "out" / "ok.txt").write_text("host secret")
    shutil.rmtree(outputs)
    outputs.symlink_to(elsewhere)
    code, err, _ = await api("runs", run["id"], "outputs", "out", "ok.txt")
    assert code == 404, err
    code, body, _ = await api("runs", run["id"], "outputs.zip")
    assert code == 200
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert zf.namelist() == []
    # a symlinked output file inside a real outputs/ folder is not served either
    outputs.unlink()
    (outputs / "out").mkdir(parents=True)
    (outputs / "out" / "ok.txt").symlink_to(elsewhere / "out" / "ok.txt")
    code, err, _ = await api("runs", run["id"], "outputs", "out", "ok.txt")
    assert code == 404 and json.dumps(err)
