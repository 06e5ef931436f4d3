"""The runner as every remote executor ships it (`executors/shipping.py`): a zipapp started with the
node's Python, without jupyter_jobs on the job's path; its heartbeat, cancel by file, and the end of its
supervisor. No engine needed: the runner is started here as an engine would start it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import process_ended, wait_for

from jupyter_jobs.executors.shipping import runner_command, runner_files, runner_zipapp
from jupyter_jobs.runner import layout, protocol

#: Debian's interpreter: no jupyter_jobs, no pydantic; what a bare node has.
BARE_PYTHON = "/usr/bin/python3.11"


def plan_run(tmp_path: Path, cmd: str, **plan) -> Path:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    layout.write_json(run_dir / protocol.PLAN, protocol.Plan(
        run_id="r1", cmd=cmd, work_dir=str(run_dir / protocol.WORK), **plan).to_dict())
    return run_dir


def start(tmp_path: Path, run_dir: Path, python: str = sys.executable, supervised: bool = False,
          parent: bool = False) -> subprocess.Popen:
    """The runner, or (`parent`) a process that starts it and waits, as an engine's supervisor does."""
    argv = runner_command(python, str(runner_zipapp(tmp_path / "ship")), str(run_dir), supervised)
    if parent:
        argv = [sys.executable, "-c", "import subprocess, sys; subprocess.run(sys.argv[1:])", *argv]
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)


def events(run_dir: Path) -> str:
    return (run_dir / protocol.EVENTS).read_text() if (run_dir / protocol.EVENTS).exists() else ""


def result(run_dir: Path) -> dict | None:
    return layout.read_json(run_dir / protocol.RESULT)


def test_the_archive_holds_exactly_the_runners_modules():
    names = set(runner_files())
    assert {"__main__.py", "jupyter_jobs/runner/runner.py", "jupyter_jobs/runner/protocol.py",
            "jupyter_jobs/pyenv/cache.py"} <= names
    assert not any(n.startswith(("jupyter_jobs/service", "jupyter_jobs/server", "jupyter_jobs/spec")) for n in names)
    assert runner_files()["jupyter_jobs/__init__.py"] == b""  # not the package's own (it imports more)


@pytest.mark.skipif(not os.path.exists(BARE_PYTHON), reason=f"{BARE_PYTHON} (Debian's python3.11) is not here")
def test_it_runs_on_a_bare_python_and_stays_off_the_jobs_path(tmp_path):
    cmd = (f"{BARE_PYTHON} -c 'import sys; print(\"path\", [p for p in sys.path if \"pyz\" in p])'; "
           f"echo PYTHONPATH=$PYTHONPATH; {BARE_PYTHON} -c 'import jupyter_jobs' 2>&1 | tail -1")
    run_dir = plan_run(tmp_path, cmd)
    assert start(tmp_path, run_dir, BARE_PYTHON).wait(timeout=60) == 0
    assert result(run_dir)["status"] == "SUCCEEDED"
    out = "".join(e["text"] for e in map(json.loads, events(run_dir).splitlines())
                  if e["type"] == "log" and e["stream"] == "stdout")
    assert "path []" in out and "PYTHONPATH=\n" in out and "No module named 'jupyter_jobs'" in out


def test_a_python_that_cannot_run_it_leaves_a_result(tmp_path):
    """A node's Python that lacks what the runner needs (here: a module shadowing the standard
    library's `selectors`) ends the run FAILED with the reason, not LOST without a word."""
    run_dir = plan_run(tmp_path, "true")
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "selectors.py").write_text("raise ImportError('no selectors on this node')\n")
    argv = runner_command(sys.executable, str(runner_zipapp(tmp_path / "ship")), str(run_dir))
    done = subprocess.run(argv, env={**os.environ, "PYTHONPATH": str(shadow)}, capture_output=True, text=True)
    assert done.returncode == 1
    assert result(run_dir)["status"] == "FAILED"
    assert "the runner could not start with" in result(run_dir)["error"]
    assert "no selectors on this node" in result(run_dir)["error"]


def test_heartbeat_and_cancel_by_file_reach_the_job_once(tmp_path):
    cmd = ("trap 'echo got TERM; sleep 1; echo handled; exit 0' TERM; echo ready; "
           "while true; do sleep 0.1; done")
    run_dir = plan_run(tmp_path, cmd, graceful=protocol.Graceful(signal="SIGTERM", timeout=30))
    runner = start(tmp_path, run_dir)
    wait_for(lambda: "ready" in events(run_dir), timeout=60, message="the job starting")
    beat = wait_for(lambda: layout.read_json(run_dir / protocol.HEARTBEAT), message="a heartbeat")
    assert beat["pid"] == runner.pid
    # No signal at all (an engine that cannot signal the runner): the file alone is the request.
    layout.write_json(run_dir / protocol.CANCEL, {"graceful": True, "reason": "by file"})
    assert runner.wait(timeout=60) == 0
    assert (result(run_dir)["status"], result(run_dir)["error"]) == ("CANCELLED", "by file")
    assert events(run_dir).count("got TERM") == 1 and "handled" in events(run_dir)


def test_a_signal_and_the_file_together_still_signal_the_job_once(tmp_path):
    cmd = "trap 'echo got TERM; sleep 2; exit 0' TERM; echo ready; while true; do sleep 0.1; done"
    run_dir = plan_run(tmp_path, cmd, graceful=protocol.Graceful(signal="SIGTERM", timeout=30))
    runner = start(tmp_path, run_dir)
    wait_for(lambda: "ready" in events(run_dir), timeout=60, message="the job starting")
    layout.write_json(run_dir / protocol.CANCEL, {"graceful": True, "reason": "twice asked"})
    os.kill(runner.pid, signal.SIGTERM)
    os.kill(runner.pid, signal.SIGTERM)
    assert runner.wait(timeout=60) == 0
    assert events(run_dir).count("got TERM") == 1


def test_a_hard_cancel_by_file_escalates_a_graceful_one(tmp_path):
    cmd = "trap 'echo got TERM' TERM; echo ready; while true; do sleep 0.1; done"  # ignores the request
    run_dir = plan_run(tmp_path, cmd, graceful=protocol.Graceful(signal="SIGTERM", timeout=600))
    runner = start(tmp_path, run_dir)
    wait_for(lambda: "ready" in events(run_dir), timeout=60, message="the job starting")
    layout.write_json(run_dir / protocol.CANCEL, {"graceful": True, "reason": "please"})
    wait_for(lambda: "got TERM" in events(run_dir), timeout=30, message="the graceful signal")
    layout.write_json(run_dir / protocol.CANCEL, {"graceful": False, "reason": "now"})
    assert runner.wait(timeout=60) == 0
    assert result(run_dir)["status"] == "CANCELLED" and "killing the job" in events(run_dir)


def job_pid(run_dir: Path) -> int:
    return int(wait_for(lambda: (run_dir / protocol.WORK / "job.pid").exists()
                        and (run_dir / protocol.WORK / "job.pid").read_text().strip(), timeout=60,
                        message="the job's pid"))


def test_a_supervised_runner_ends_its_job_when_the_supervisor_dies(tmp_path):
    run_dir = plan_run(tmp_path, "echo $$ > job.pid; sleep 600")
    supervisor = start(tmp_path, run_dir, supervised=True, parent=True)
    job = job_pid(run_dir)
    supervisor.kill()  # SIGKILL: no chance to pass anything on
    supervisor.wait()
    wait_for(lambda: process_ended(job), timeout=30, message="the job ending with its supervisor")
    wait_for(lambda: result(run_dir), timeout=30, message="the runner's result")
    assert result(run_dir)["status"] == "CANCELLED" and "ended" in result(run_dir)["error"]


def test_a_supervised_runners_job_dies_with_it_even_when_killed(tmp_path):
    """An engine kills the runner's process group with SIGKILL (Ray's watcher); the job's own group
    is ended by the runner's guard."""
    run_dir = plan_run(tmp_path, "echo $$ > job.pid; sleep 600")
    runner = start(tmp_path, run_dir, supervised=True)
    job = job_pid(run_dir)
    os.killpg(runner.pid, signal.SIGKILL)
    runner.wait()
    wait_for(lambda: process_ended(job), timeout=30, message="the job ending with its runner")


def test_an_unsupervised_runner_outlives_its_parent(tmp_path):
    run_dir = plan_run(tmp_path, "echo $$ > job.pid; sleep 3; echo done")
    parent = start(tmp_path, run_dir, parent=True)
    job_pid(run_dir)
    parent.kill()  # the CLI that started a local run ends: the run goes on
    wait_for(lambda: result(run_dir), timeout=60, message="the run ending")
    assert result(run_dir)["status"] == "SUCCEEDED"
