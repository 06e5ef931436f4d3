"""The Python API (`jupyter_jobs.Job`, `JobRun`, `get_run`) end to end: real jobs on the embedded local
executor (the service in this process, detached runners), the README's example included."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

import jupyter_jobs
from jupyter_jobs import Job, JobCancelled, JobFailed, get_run
from jupyter_jobs.client import EmbeddedClient
from jupyter_jobs.errors import ConfigError
from jupyter_jobs.runner.protocol import Status

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(autouse=True)
def embedded(monkeypatch):
    monkeypatch.setenv("JUPYTER_JOBS_URL", "embedded")


def test_a_command_job_runs_streams_and_brings_its_outputs_back(tmp_path, capsys):
    (tmp_path / "data.txt").write_text("hello\n")
    job = Job(cmd="tr a-z A-Z < data.txt > out/upper.txt; echo ${GREETING}; echo oops >&2",
              inputs=["data.txt"], outputs=["out/"], env={"GREETING": "hi there"}, name="shout",
              base_dir=tmp_path)
    run = job.run()
    assert capsys.readouterr().out == "hi there\n"  # watch() streamed the job's stdout here
    assert run.status == Status.SUCCEEDED
    final = run.result()
    assert final.name == "shout" and final.exit_code == 0
    assert (tmp_path / "out" / "upper.txt").read_text() == "HELLO\n"
    assert run.files == [tmp_path / "out" / "upper.txt"]
    assert run.logs() == "hi there\n" and run.logs("stderr") == "oops\n"
    again = get_run(run.id[:9])
    assert again.id == run.id and again.status == Status.SUCCEEDED


def test_a_config_file_job_and_a_failure(tmp_path):
    (tmp_path / "config.yaml").write_text(textwrap.dedent("""
        name: failing
        cmd: echo partial > partial.txt; exit 3
        outputs:
          - partial.txt
    """))
    run = Job.from_yaml(tmp_path / "config.yaml").submit()
    with pytest.raises(JobFailed, match="exit code 3") as failed:
        run.result()
    assert failed.value.run_id == run.id and failed.value.status == "FAILED"
    assert (tmp_path / "partial.txt").read_text() == "partial\n"  # a failed job's outputs come back too
    assert run.run.origin.source == str(tmp_path / "config.yaml")


def test_cancel_stops_a_running_job(tmp_path):
    run = Job(cmd="echo started; sleep 60", base_dir=tmp_path).submit()
    assert run.status in (Status.QUEUED, Status.PREPARING, Status.RUNNING)
    run.cancel()
    with pytest.raises(JobCancelled):
        run.result()
    assert run.status == Status.CANCELLED


def test_bad_arguments_are_one_clear_error_before_anything_runs(tmp_path):
    with pytest.raises(ConfigError, match=r"`Job\(timeout\)`: Input should be greater than 0"):
        Job(cmd="true", timeout=-1)
    with pytest.raises(ConfigError, match="input 'missing.txt' does not exist"):
        Job(cmd="true", inputs=["missing.txt"], base_dir=tmp_path).submit()
    (tmp_path / "config.yaml").write_text("cmd: cat data.txt\ninputs:\n  - nope.txt\n")
    with pytest.raises(ConfigError, match=r"config.yaml:3"):
        Job.from_yaml(tmp_path / "config.yaml").submit()
    client = EmbeddedClient()
    assert client.list() == []  # nothing was submitted


def test_the_readme_example_works(tmp_path, monkeypatch, capsys):
    block = re.search(r"## Python API.*?```python\n(.*?)```", README.read_text(), re.S)
    assert block, "README.md has a `## Python API` section with a python example"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text("import sys\nopen('model.txt', 'w').write('trained ' + sys.argv[1])\n"
                                       "print('epoch 1 done')\n")
    exec(compile(block.group(1), "README.md", "exec"), {})
    assert "epoch 1 done" in capsys.readouterr().out
    assert (tmp_path / "model.txt").read_text() == "trained 0.1"


def test_the_api_is_exported_lazily():
    assert set(jupyter_jobs.__all__) >= {"Job", "JobRun", "JobFailed", "JobCancelled", "get_run"}
    with pytest.raises(AttributeError):
        jupyter_jobs.NoSuchThing  # noqa: B018
