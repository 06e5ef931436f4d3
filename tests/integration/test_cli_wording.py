"""What the CLI says, through the real `jupyter jobs` on the local executor: plurals ("1 output file",
"2 GPUs"), progress rounded, the instance-size note once per run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jupyter_jobs.executors.base import gpu_count

CLI = [sys.executable, "-m", "jupyter_jobs.cli"]


def jobs(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), cwd=cwd, capture_output=True, text=True, timeout=300)


def test_gpu_counts_read_as_english():
    assert [gpu_count(n) for n in (0, 1, 2, 0.125)] == ["0 GPUs", "1 GPU", "2 GPUs", "0.125 GPU"]


def test_a_gpu_type_larger_than_the_machine_is_refused_in_plurals(tmp_path, jobs_data_dir):
    (jobs_data_dir / "config").mkdir(exist_ok=True)
    (jobs_data_dir / "config" / "jupyter_jobs_config.json").write_text(
        json.dumps({"JobsSettings": {"local_gpus": ["0"]}}))
    (tmp_path / "config.yaml").write_text("cmd: nvidia-smi\ncloud-instance-type: g1.2\n")
    refused = jobs("execute", "-c", "config.yaml", cwd=tmp_path)
    assert refused.returncode == 2
    assert "needs 2 GPUs (V100); this machine has 1 GPU" in refused.stderr, refused.stderr


@pytest.mark.parametrize("count", [1, 2])
def test_output_files_are_counted_in_plurals(tmp_path, count):
    names = [f"out{i}.txt" for i in range(count)]
    (tmp_path / "config.yaml").write_text(
        "cmd: " + " && ".join(f"echo {n} > {n}" for n in names) + "\noutputs:\n"
        + "".join(f"  - {n}\n" for n in names))
    done = jobs("execute", "-c", "config.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    noun = "output file" if count == 1 else "output files"
    assert f"downloaded {count} {noun} (" in done.stderr, done.stderr


def test_progress_is_rounded_and_the_instance_note_said_once(tmp_path):
    if (os.cpu_count() or 1) >= 80:
        pytest.skip("this machine serves c1.80 without a note")
    (tmp_path / "step.py").write_text(
        "import json, os\n"
        "for done in (1, 2):\n"
        "    with open(os.environ['JOB_PROGRESS_FILENAME'], 'a') as fh:\n"
        "        fh.write(json.dumps({'progress': 100 * done / 3, 'message': f'step {done}/3'}) + '\\n')\n")
    (tmp_path / "config.yaml").write_text("cmd: python step.py\ninputs:\n  - step.py\ncloud-instance-type: c1.80\n")
    done = jobs("execute", "-c", "config.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "progress 33% step 1/3" in done.stderr and "progress 67% step 2/3" in done.stderr, done.stderr
    assert "33.3" not in done.stderr
    assert done.stderr.count("c1.80 asks for 80 vCPU") == 1, done.stderr
    run_id = json.loads(jobs("list", "--format", "json").stdout)[0]["id"]
    details = jobs("get", "--id", run_id).stdout
    assert details.count("c1.80 asks for 80 vCPU") == 1 and "progress:        67% step 2/3" in details, details
    assert json.loads(jobs("get", "--id", run_id, "--format", "json").stdout)["progress"] == 66.7
