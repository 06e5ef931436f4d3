"""What users do, unchanged, on each cluster engine: a DataSphere config job and a parametrised notebook
with the CLI, a `%%job` cell with variables both ways and a plot in a real kernel. Logs, progress and
outputs come back, and the engine's own job is named after the run and ends as the run did."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from engines import ENGINES
from helpers import cancel_slurm_jobs_of, wait_for
from kernel_helpers import start_kernel

CLI = [sys.executable, "-m", "jupyter_jobs.cli"]


@dataclass(frozen=True)
class Engine:
    name: str
    name_var: str  # the variable in which the job finds the name its engine gave it: the run id
    waiting: str  # the run's system log while the engine has not started the job yet
    ended: str  # what the engine records of the job of a run that succeeded ({id}: the run id)


FRONT_DOOR_ENGINES = {
    "ray": Engine("ray", "JOB_ID", "waiting for the Ray cluster to start it", "{id}|SUCCEEDED"),
    "slurm": Engine("slurm", "SLURM_JOB_NAME", "waiting for Slurm to start it", "{id}|COMPLETED|0:0|debug"),
}


@pytest.fixture(params=sorted(FRONT_DOOR_ENGINES))
def engine(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def built_envs() -> dict[str, Path]:
    """Job environments built on each engine, shared by this module's tests (a warm cache)."""
    return {}


@pytest.fixture
def on_engine(engine, jobs_data_dir, built_envs, tmp_path_factory) -> Engine:
    """`engine` as the only executor of this test's CLI runs, notebook runs and kernels (its own
    jupyter_jobs_config.json), with the environments built before; a Slurm job left behind is cancelled."""
    settings = {"JobsSettings": {"executors": [engine]}, **ENGINES[engine](None)}
    folder = Path(os.environ["JUPYTER_CONFIG_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "jupyter_jobs_config.json").write_text(json.dumps(settings))
    if engine not in built_envs:
        built_envs[engine] = tmp_path_factory.mktemp(f"{engine}-envs")
    (jobs_data_dir / "envs").symlink_to(built_envs[engine], target_is_directory=True)
    yield FRONT_DOOR_ENGINES[engine]
    if engine == "slurm":
        cancel_slurm_jobs_of(jobs_data_dir)


def jobs(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def last_run(cwd: Path) -> dict:
    return json.loads(jobs("list", "--format", "json", cwd=cwd).stdout)[0]


def ended_on(engine: Engine, run_id: str) -> list[str]:
    """What the engine itself recorded of the jobs named `run_id` once they ended: Slurm's accounting
    (JobName|State|ExitCode|Partition; slurmctld reports to slurmdbd a moment after the job ends),
    Ray's job info (submission id|status; the runner's process ends a moment after its result)."""
    if engine.name == "slurm":
        def ended():
            rows = subprocess.run(["sacct", "-X", "-n", "-P", f"--name={run_id}", "-o",
                                   "JobName,State,ExitCode,Partition"],
                                  capture_output=True, text=True, check=True).stdout.split()
            return rows if rows and all(row.split("|")[1] not in ("PENDING", "RUNNING") for row in rows) else None
    else:
        from ray.job_submission import JobSubmissionClient

        client = JobSubmissionClient(os.environ["RAY_ADDRESS"])

        def ended():
            info = client.get_job_info(run_id)
            return [f"{info.submission_id}|{info.status.value}"] if info.status.is_terminal() else None

    return wait_for(ended, timeout=60, message=f"{engine.name} recording the end of {run_id}", interval=0.2)


def test_datasphere_config_job(on_engine, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "misc").mkdir()
    (tmp_path / "src" / "main.py").write_text(textwrap.dedent("""\
        import argparse, json, os, sys
        p = argparse.ArgumentParser()
        p.add_argument("--params"); p.add_argument("--model"); p.add_argument("--epochs", type=int)
        a = p.parse_args()
        params = json.load(open(a.params))
        for epoch in range(a.epochs):
            print(f"epoch {epoch} lr={params['lr']} device_count={os.environ['DEVICE_COUNT']}", flush=True)
            with open(os.environ["JOB_PROGRESS_FILENAME"], "a") as fh:
                progress = {"progress": 100 * (epoch + 1) / a.epochs, "message": f"epoch {epoch + 1}"}
                fh.write(json.dumps(progress) + "\\n")
        os.makedirs(os.path.dirname(a.model), exist_ok=True)
        open(a.model, "w").write(f"model lr={params['lr']}")
        os.makedirs("other", exist_ok=True)
        open("other/metrics.png", "wb").write(b"\\x89PNG fake")
        print("trained as", os.environ[os.environ["NAME_VAR"]])
        print("a warning", file=sys.stderr)
        sys.exit(3 if os.environ.get("FAIL") else 0)
        """))
    (tmp_path / "misc" / "logging.yaml").write_text("level: INFO\n")
    (tmp_path / "params.json").write_text('{"lr": 0.01}')
    (tmp_path / "config.yaml").write_text(textwrap.dedent(f"""\
        name: simple-python-script
        desc: Program description
        cmd: >
          python3 src/main.py
            --params ${{PARAMS}}
            --model ${{MODEL}}
            --epochs 5
        inputs:
          - src/main.py
          - misc/logging.yaml
          - params.json:
              var: PARAMS
        outputs:
          - data/model.bin: MODEL
          - other/metrics.png
        env:
          vars:
            PYTHONBUFFERED: Yes
            DEVICE_COUNT: 8
            NAME_VAR: {on_engine.name_var}
          python: auto
        cloud-instance-type: c1.4
        """))
    done = jobs("execute", "-c", "config.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run = last_run(tmp_path)
    assert "epoch 4 lr=0.01 device_count=8" in done.stdout
    assert f"trained as {run['id']}" in done.stdout
    assert "a warning" in done.stderr
    assert (tmp_path / "data" / "model.bin").read_text() == "model lr=0.01"
    assert (tmp_path / "other" / "metrics.png").read_bytes() == b"\x89PNG fake"
    assert (run["executor"], run["status"], run["exit_code"]) == (on_engine.name, "SUCCEEDED", 0)
    assert (run["progress"], run["progress_message"]) == (100.0, "epoch 5")
    assert on_engine.waiting in jobs("logs", "--id", run["id"], "--stream", "system", cwd=tmp_path).stdout
    assert ended_on(on_engine, run["id"]) == [on_engine.ended.format(id=run["id"])]

    (tmp_path / "config.yaml").write_text((tmp_path / "config.yaml").read_text().replace(
        "DEVICE_COUNT: 8", "DEVICE_COUNT: 8\n    FAIL: 'yes'"))
    failed = jobs("execute", "-c", "config.yaml", cwd=tmp_path)
    assert failed.returncode != 0
    assert last_run(tmp_path)["exit_code"] == 3


def test_parametrised_notebook_run(on_engine, tmp_path):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("alpha = 1\nlabel = 'default'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params,
                nbformat.v4.new_code_cell(f"import os\nprint('label', label, 'alpha', alpha, type(alpha).__name__, "
                                          f"'as', os.environ[{on_engine.name_var!r}])"),
                nbformat.v4.new_code_cell("from IPython.display import HTML\nHTML(f'<b>{alpha * 2}</b>')"),
                nbformat.v4.new_code_cell("open('done.txt', 'w').write(label)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "analysis.ipynb")
    label = f"on-{on_engine.name}"
    done = jobs("run", "analysis.ipynb", "-p", "alpha", "3", "-p", "label", label, "--outputs", "done.txt",
                cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run = last_run(tmp_path)
    assert f"label {label} alpha 3 int as {run['id']}" in done.stdout
    assert "progress 100%" in done.stderr
    executed = json.loads((tmp_path / f"analysis-{run['id']}.ipynb").read_text())
    assert "<b>6</b>" in json.dumps(executed["cells"])
    assert (tmp_path / "done.txt").read_text() == label
    assert (run["kind"], run["executor"], run["status"]) == ("notebook", on_engine.name, "SUCCEEDED")


def test_cell_job_with_variables_both_ways_and_a_plot(on_engine, jobs_data_dir, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    kernel = start_kernel(jobs_data_dir, work)
    try:
        kernel.ok("import numpy as np\nn = 41\nconfig = {'lr': 0.1}\narr = np.arange(6, dtype='float32')")
        reply = kernel.ok(f"""%%job --in n,config --out n2,config2,arr2
import os
import matplotlib.pyplot as plt
n2 = n + 1
config2 = dict(config, lr=config["lr"] * 2)
arr2 = arr * 2
plt.plot(arr2)
plt.show()
print("ran as", os.environ[{on_engine.name_var!r}], flush=True)
""", timeout=600)
        assert kernel.value("n2") == 42
        assert kernel.value("config2") == {"lr": 0.2}
        assert kernel.value("(type(arr2).__name__, str(arr2.dtype), arr2.tolist())") == (
            "ndarray", "float32", [0.0, 2.0, 4.0, 6.0, 8.0, 10.0])
        assert "image/png" in reply.mimes()
        png = [m["content"]["data"]["image/png"] for m in reply.of_type("display_data")
               if "image/png" in m["content"]["data"]]
        assert base64.b64decode(png[0]).startswith(b"\x89PNG")
        run = last_run(work)
        assert (run["executor"], run["kind"], run["status"]) == (on_engine.name, "cell", "SUCCEEDED")
        assert f"ran as {run['id']}" in reply.text()
        assert ended_on(on_engine, run["id"]) == [on_engine.ended.format(id=run["id"])]
    finally:
        kernel.shutdown()
