"""The host never trusts what a job writes into its run directory (issue 10, items 1, 2, 4, 8).

A job can write anything under its run dir (the Docker executor mounts it read-write): result.json,
events.jsonl, symlinks in outputs/. Each test writes what a hostile job could, with a real runner and
the embedded service, and checks that the host lists, reads and downloads only what it should.
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from jupyter_jobs.client import EmbeddedClient
from jupyter_jobs.runner import layout, protocol
from jupyter_jobs.service import rundir as rundir_module
from jupyter_jobs.service.rundir import RunDir
from jupyter_jobs.service.schemas import Origin, OutputEntry, OutputFile, SubmitRequest
from jupyter_jobs.spec.models import FileRef, JobSpec


@pytest.fixture
def client():
    client = EmbeddedClient()
    yield client
    client.service.close()


def wait_for_file(path: Path, timeout: float = 60) -> None:
    """The runner's own result, seen on disk before the service reads it (so a test can overwrite it)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def finished_run_dir(client, cmd: str, base: Path, outputs=()) -> tuple[str, Path]:
    run = client.submit(SubmitRequest(spec=JobSpec(cmd=cmd, outputs=[FileRef(path=p) for p in outputs]),
                                      origin=Origin(base_dir=str(base))))
    run_dir = client.service.run_dir(run.id)
    wait_for_file(run_dir / protocol.RESULT)
    return run.id, run_dir


def test_forged_output_manifest_is_ignored_and_symlinks_are_not_followed(client, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    secret = tmp_path / "host-secret.txt"
    secret.write_text("host only")
    run_id, run_dir = finished_run_dir(
        client, f"mkdir -p out/sub && echo real > out/sub/a.txt && ln -s {secret} out/link.txt"
                f" && ln -s {tmp_path} out/sub/up && ln -s {secret} single.txt", project, ["out/", "single.txt"])
    planted = tmp_path / "planted.txt"
    forged = {"status": "SUCCEEDED", "exit_code": 0, "error": None, "finished_at": time.time(), "outputs": [
        {"name": str(planted), "src": "../../..", "files": [{"path": f"../../../../../../..{secret}", "size": 9}]},
        {"name": "../escaped.txt", "src": "out", "files": [{"path": "out/sub/a.txt", "size": 5}]}]}
    (run_dir / protocol.RESULT).write_text(json.dumps(forged))  # what a job's leftover process could do

    run = client.get(run_id)
    assert run.status == "SUCCEEDED"
    # the host's own walk: declared outputs only, regular files only
    assert [(e.name, e.missing) for e in run.outputs] == [("out/", False), ("single.txt", True)]
    assert [f.path for f in run.outputs[0].files] == ["out/sub/a.txt"]

    report = client.download_outputs(run)
    assert (project / "out" / "sub" / "a.txt").read_text() == "real\n"
    assert not planted.exists() and not (tmp_path / "escaped.txt").exists()
    assert not (project / "single.txt").exists() and report.missing == ["single.txt"]
    assert sorted(p.relative_to(project).as_posix() for p in report.files) == ["out/sub/a.txt"]


def test_download_refuses_destinations_outside_the_folder(client, tmp_path):
    """A manifest stored before the host made its own (or tampered with) cannot place files elsewhere."""
    project = tmp_path / "project"
    project.mkdir()
    run_id, run_dir = finished_run_dir(client, "mkdir -p out && echo real > out/a.txt", project, ["out/"])
    run = client.get(run_id)
    forged = run.model_copy(update={"outputs": [
        OutputEntry(name=str(tmp_path / "planted.txt"), src="out/a.txt", files=[OutputFile(path="out/a.txt", size=5)]),
        OutputEntry(name="out/", src="out", is_dir=True, files=[OutputFile(path="out/../../../x.txt", size=5)]),
    ]})
    report = client.download_outputs(forged)
    assert report.files == [] and len(report.refused) == 2, report
    assert "not one the job's spec declares" in report.refused[0]
    assert "outside" in report.refused[1]
    assert not (tmp_path / "planted.txt").exists() and not (tmp_path / "x.txt").exists()
    elsewhere = tmp_path / "elsewhere"
    report = client.download_outputs(run, elsewhere)
    assert (elsewhere / "out" / "a.txt").read_text() == "real\n" and not report.refused


@pytest.mark.parametrize("content, why", [
    ("not json", "not JSON"),
    ('{"status": "BOGUS"}', "status 'BOGUS'"),
    ('{"status": "SUCCEEDED", "exit_code": "zero"}', "exit_code"),
    ('{"status": "FAILED", "exit_code": 123456789012345678901234567890}', "exit_code"),
    ('[1, 2]', "not a JSON object"),
    ("symlink", "not a regular file"),
    ("fifo", "not a regular file"),
])
def test_an_invalid_result_is_a_clear_failure(client, tmp_path, content, why):
    run_id, run_dir = finished_run_dir(client, "true", tmp_path)
    result = run_dir / protocol.RESULT
    result.unlink()
    if content == "symlink":
        (tmp_path / "target.json").write_text('{"status": "SUCCEEDED", "exit_code": 0}')
        result.symlink_to(tmp_path / "target.json")
    elif content == "fifo":
        os.mkfifo(result)
    else:
        result.write_text(content)
    run = client.get(run_id)
    assert run.status == "FAILED" and run.exit_code is None
    assert run.error.startswith("the run left an invalid result.json") and why in run.error, run.error
    assert [r.id for r in client.list()] == [run_id]


def test_a_long_error_is_cut():
    checked = rundir_module.check_result({"status": "FAILED", "exit_code": 3, "error": "x" * 10**6})
    assert checked["status"] == "FAILED" and checked["exit_code"] == 3 and len(checked["error"]) == 4000


def test_malformed_event_lines_are_skipped_and_counted(client, tmp_path, monkeypatch):
    monkeypatch.setattr(rundir_module, "MAX_LINE", 1 << 16)
    huge = "x" * (1 << 17)  # over MAX_LINE: passed over without being held
    garbage = (b'not json\n\xff\xfe\n{"type": 5, "t": 1}\n{"type": "log", "t": 1, "stream": "nope", "text": "x"}\n'
               b'{"type": "status", "t": 1, "status": "SUCCEEDED"}\n{"type": "progress", "t": 1, "progress": "9"}\n'
               b'{"type": "display", "t": 1, "msg_type": "display_data", "data": [1]}\n'
               b'{"type": "log", "t": 1e300, "stream": "stdout", "text": "x"}\n'
               + b"[" * 100000 + b"\n" + f'{{"type": "log", "t": 1, "stream": "stdout", "text": "{huge}"}}\n'.encode()
               + b'{"type": "log", "t": 1,\r "stream": "stdout", "text": "kept\\n"}\n')
    (tmp_path / "garbage").write_bytes(garbage)
    append = f"cat {tmp_path / 'garbage'} >> ../events.jsonl"
    run_id, run_dir = finished_run_dir(client, f"echo before; {append}; echo after", tmp_path)
    events = list(client.follow(run_id))
    assert events[-1]["type"] == "result" and events[-1]["status"] == "SUCCEEDED"
    text = "".join(e["text"] for e in events if e["type"] == "log" and e["stream"] == "stdout")
    assert sorted(text.splitlines()) == ["after", "before", "kept"]  # the job wrote "kept" itself
    assert client.logs(run_id, "stdout") == text
    reader = RunDir(run_dir)
    reader.read_events(0)
    assert reader.skipped == 10
    assert client.get(run_id).status == "SUCCEEDED"  # a forged status event does not settle the run


def test_logs_are_kept_once_and_downloaded_from_the_events(client, tmp_path):
    run_id, run_dir = finished_run_dir(client, "echo out; echo err >&2", tmp_path)
    client.get(run_id)
    assert not any(run_dir.glob("*.log")), "text logs are derived from events.jsonl, not stored twice"
    files = client.download_logs(run_id, tmp_path / "dl")
    assert sorted(p.name for p in files) == ["events.jsonl", "stderr.log", "stdout.log", "system.log"]
    assert (tmp_path / "dl" / "logs" / "stdout.log").read_text() == "out\n"
    assert (tmp_path / "dl" / "logs" / "stderr.log").read_text() == "err\n"
    assert not list((tmp_path / "dl" / "logs").glob(".*")), "no temporary files left"


def test_host_writes_into_a_run_dir_never_follow_symlinks(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    host_file = tmp_path / "host.txt"
    host_file.write_text("host data\n")
    (run_dir / protocol.EVENTS).symlink_to(host_file)
    with pytest.raises(OSError):
        layout.append_system(run_dir, "pulling image")
    # the temporary name the old write-then-rename used, planted as a symlink
    (run_dir / f".{protocol.CANCEL}.{os.getpid()}.tmp").symlink_to(host_file)
    layout.write_json(run_dir / protocol.CANCEL, {"graceful": True})
    assert host_file.read_text() == "host data\n"
    assert json.loads((run_dir / protocol.CANCEL).read_text()) == {"graceful": True}
    os.mkfifo(run_dir / "fifo")
    with pytest.raises(OSError):
        layout.read_json(run_dir / "fifo")  # refused at once, not a hang


def test_data_dir_index_and_logs_are_owner_only(client, tmp_path, jobs_data_dir):
    run_id, run_dir = finished_run_dir(client, "echo hi", tmp_path)
    client.get(run_id)
    assert stat.S_IMODE(jobs_data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((jobs_data_dir / "jobs.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((run_dir / protocol.EVENTS).stat().st_mode) == 0o600
