"""The warm CLI (jupyter_jobs/cli/warm.py), with real processes: the first call starts the warm process,
later calls are handed to it and behave as a plain run (output, exit code, folder, environment,
Ctrl-C), and the caller's own process imports none of the service stack."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from helpers import process_ended, wait_for

CLI = [sys.executable, "-m", "jupyter_jobs.cli"]


@pytest.fixture
def warm_env(monkeypatch):
    """JUPYTER_JOBS_WARM=1 and a private runtime folder (short: a socket path has at most 107 bytes);
    the warm process is stopped afterwards."""
    runtime = Path(tempfile.mkdtemp(prefix="jw-"))
    monkeypatch.setenv("JUPYTER_JOBS_WARM", "1")
    monkeypatch.setenv("JUPYTER_JOBS_WARM_IDLE", "120")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    yield runtime
    for lock in runtime.glob("jupyter-jobs-*/warm-*.lock"):
        pid = int(lock.read_text().strip() or 0)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            wait_for(lambda pid=pid: process_ended(pid), message="the warm process to end")
    shutil.rmtree(runtime, ignore_errors=True)


def jobs(*args: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=120, **kwargs)


def warm_socket(runtime: Path) -> Path:
    """The socket once the warm process listens (the first call started it)."""
    found: list[Path] = []
    wait_for(lambda: found.extend(runtime.glob("jupyter-jobs-*/warm-????????.sock")) or found, timeout=60,
             message="the warm process's socket")
    return found[0]


def caller_imports(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run the CLI with `-X importtime`: what the caller's own process imported, and its result."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "jupyter_jobs.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    imported = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    proc.stderr = "".join(line + "\n" for line in proc.stderr.splitlines() if not line.startswith("import time:"))
    return proc, imported


def test_a_warm_call_runs_the_command_as_a_plain_run_does(tmp_path, warm_env, jobs_data_dir):
    (tmp_path / "config.yaml").write_text("name: warm\ncmd: 'echo out-$GREETING; echo err-line >&2; exit 3'\n")
    first = jobs("execute", "-c", "config.yaml", cwd=tmp_path, env={**os.environ, "GREETING": "cold"})
    assert first.returncode == 3, first.stderr
    assert first.stdout == "out-cold\n" and "err-line" in first.stderr
    warm_socket(warm_env)

    second, imported = caller_imports("execute", "-c", "config.yaml", cwd=tmp_path)
    assert second.returncode == 3, second.stderr
    assert second.stdout == "out-\n" and "err-line" in second.stderr and "exit code 3" in second.stderr
    # the caller imported none of the service stack: the warm process ran the command
    assert not {"sqlalchemy", "pydantic", "jupyter_jobs.service", "yaml"} & imported

    # the caller's environment, folder and umask are the command's: another data dir, another folder
    other_data, other_dir = tmp_path / "other-data", tmp_path / "elsewhere"
    other_dir.mkdir()
    (other_dir / "config.yaml").write_text("name: elsewhere\ncmd: 'echo $GREETING > out.txt'\noutputs: [out.txt]\n")
    env = {**os.environ, "JUPYTER_JOBS_DATA_DIR": str(other_data), "GREETING": "warm"}
    third = jobs("execute", "-c", "config.yaml", cwd=other_dir, env=env)
    assert third.returncode == 0, third.stderr
    assert (other_dir / "out.txt").read_text() == "warm\n"
    listed = json.loads(jobs("list", "--format", "json", cwd=other_dir, env=env).stdout)
    assert [run["name"] for run in listed] == ["elsewhere"]
    names = {run["name"] for run in json.loads(jobs("list", "--format", "json", cwd=tmp_path).stdout)}
    assert names == {"warm"}

    # a usage error is the same one line and exit code 2
    bad = jobs("execute", "-c", "missing.yaml", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("jobs: error: ") and len(bad.stderr.splitlines()) == 1


def test_ctrl_c_reaches_the_warm_command(tmp_path, warm_env):
    """SIGINT to the caller is the command's Ctrl-C: without a terminal to ask, it detaches (exit 130)
    and the job keeps running, as in a plain run."""
    (tmp_path / "config.yaml").write_text("name: long\ncmd: 'echo started; sleep 60'\n")
    jobs("list", cwd=tmp_path)
    warm_socket(warm_env)
    caller = subprocess.Popen([*CLI, "execute", "-c", "config.yaml"], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    assert caller.stdout.readline() == "started\n"
    caller.send_signal(signal.SIGINT)
    out, err = caller.communicate(timeout=60)
    assert caller.returncode == 130, err
    assert "detached; job " in err and "keeps running" in err
    run = json.loads(jobs("list", "--format", "json", cwd=tmp_path).stdout)[0]
    assert run["status"] == "RUNNING"
    assert jobs("cancel", run["id"], cwd=tmp_path).returncode == 0


def test_warm_is_only_on_where_a_person_waits(monkeypatch):
    from jupyter_jobs.cli import warm

    monkeypatch.delenv("JUPYTER_JOBS_WARM", raising=False)
    monkeypatch.delenv("CI", raising=False)
    assert warm.wanted() == (os.isatty(0) and os.isatty(2))
    monkeypatch.setenv("CI", "true")
    assert not warm.wanted()
    monkeypatch.setenv("JUPYTER_JOBS_WARM", "1")
    assert warm.wanted()
    monkeypatch.setenv("JUPYTER_JOBS_WARM", "0")
    assert not warm.wanted()


def test_no_warm_process_where_the_socket_folder_is_not_private(tmp_path, monkeypatch):
    from jupyter_jobs.cli import warm

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    folder = tmp_path / f"jupyter-jobs-{os.getuid()}"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    assert warm.socket_path() is None and warm.call(["jupyter-jobs", "list"]) is None
    folder.chmod(0o700)
    assert os.path.dirname(warm.socket_path()) == str(folder)


def test_changed_code_is_not_served_by_the_old_warm_process(tmp_path, warm_env):
    """After an upgrade (here: a package file's mtime changes) the next call runs in its own process and
    the old warm process ends; the call after that is warm again."""
    from jupyter_jobs.cli import warm

    jobs("list", cwd=tmp_path)
    old = warm_socket(warm_env)
    old_pid = int(old.with_suffix(".lock").read_text())
    source = Path(warm.__file__)
    stamp = source.stat()
    try:
        os.utime(source, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000_000))
        proc, imported = caller_imports("list", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert "sqlalchemy" in imported  # run by the caller itself
        wait_for(lambda: process_ended(old_pid), message="the old warm process to end")
        new = warm_socket(warm_env)
        wait_for(lambda: int(new.with_suffix(".lock").read_text() or 0) not in (0, old_pid),
                 message="a new warm process")
        proc, imported = caller_imports("list", cwd=tmp_path)
        assert proc.returncode == 0 and "sqlalchemy" not in imported
    finally:
        os.utime(source, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
