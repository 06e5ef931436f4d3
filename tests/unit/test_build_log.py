"""An environment build's log: uv's own output (captured from a real `uv venv` + `uv pip install`, in
tests/data/uv_build_output.txt) is the system log's detail; what is shown where a run is followed is
one line updating in place and a summary."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from jupyter_jobs.console import EventPrinter
from jupyter_jobs.pyenv.cache import INFO, PROGRESS, BuildProgress, EnvCache
from jupyter_jobs.runner import protocol
from jupyter_jobs.runner.runner import Runner
from jupyter_jobs.service.rundir import RunDir

UV_OUTPUT = Path(__file__).resolve().parents[1] / "data" / "uv_build_output.txt"


def test_uv_output_makes_one_updating_line_and_a_summary():
    progress = BuildProgress("6adce06d0587")
    updates = [u for u in map(progress.feed, UV_OUTPUT.read_text().splitlines()) if u]
    assert updates == ["building environment 6adce06d0587: downloading 6 packages",
                       "building environment 6adce06d0587: installing 6 packages"]
    assert progress.summary(2.44) == "built environment 6adce06d0587: 6 packages in 2.4 s"
    one = BuildProgress("x")
    for line in ("Resolved 1 package in 3ms", "Installed 1 package in 1ms"):
        one.feed(line)
    assert one.summary(0.5) == "built environment x: 1 package in 0.5 s"


@pytest.fixture
def build_events(tmp_path) -> list[dict]:
    """The events a runner records for a build whose uv printed the captured output (read by a process,
    through the cache's own reader of uv's output), as every reader gets them back."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    plan = protocol.Plan(run_id="r1", cmd="true", work_dir=str(tmp_path / "work"))
    (run_dir / protocol.PLAN).write_text(json.dumps(plan.to_dict()))
    runner = Runner(run_dir)
    progress = BuildProgress("6adce06d0587")
    runner.build_log("building environment 6adce06d0587: Python 3.11, 2 requirements", PROGRESS)
    EnvCache(tmp_path / "envs")._run(["cat", str(UV_OUTPUT)], runner.build_log, progress)
    runner.build_log(progress.summary(2.4), INFO)
    runner.events.close()
    events, _ = RunDir(run_dir).read_events()
    return events


def test_uv_lines_are_the_system_logs_detail(build_events):
    levels = {e["text"].rstrip("\n"): e.get("level") for e in build_events}
    assert levels["Activate with: source v2/bin/activate"] == protocol.LOG_DETAIL
    assert levels[" + requests==2.32.3"] == protocol.LOG_DETAIL
    assert levels["building environment 6adce06d0587: installing 6 packages"] == protocol.LOG_UPDATE
    assert levels["built environment 6adce06d0587: 6 packages in 2.4 s"] is None
    assert len(build_events) == len(UV_OUTPUT.read_text().splitlines()) + 4  # every uv line is kept


def test_a_followed_build_is_one_line_and_a_summary(build_events, capsys):
    printer = EventPrinter()
    for event in build_events:
        printer(event)
    err = capsys.readouterr().err
    assert err.splitlines() == ["[system] building environment 6adce06d0587: Python 3.11, 2 requirements",
                                "[system] built environment 6adce06d0587: 6 packages in 2.4 s"]


def test_the_system_log_asked_for_has_the_detail(build_events, capsys):
    printer = EventPrinter(streams={"system"}, quiet=True, detail=True)
    for event in build_events:
        printer(event)
    err = capsys.readouterr().err
    assert "[system] Activate with: source v2/bin/activate" in err and "[system]  + six==1.17.0" in err


def test_on_a_terminal_the_build_line_is_rewritten_in_place(build_events, monkeypatch):
    master, slave = os.openpty()
    terminal = open(slave, "w", encoding="utf-8")
    monkeypatch.setattr(sys, "stderr", terminal)
    printer = EventPrinter()
    for event in build_events:
        printer(event)
    terminal.close()
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other end is closed and everything was read
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    text = seen.decode()
    assert text.count("\n") == 1  # one line: the summary, written over the updating line
    erase = "\r\x1b[K"
    assert text == (erase + "[system] building environment 6adce06d0587: Python 3.11, 2 requirements"
                    + erase + "[system] building environment 6adce06d0587: downloading 6 packages"
                    + erase + "[system] building environment 6adce06d0587: installing 6 packages"
                    + erase + "[system] built environment 6adce06d0587: 6 packages in 2.4 s\r\n")
