"""What users do, unchanged, on a real Slurm cluster: a DataSphere config job and a parametrised notebook
with the CLI, a `%%job` cell with variables both ways and a plot in a real kernel. Logs, progress and
outputs come back; the Slurm job is named after the run."""

from __future__ import annotations

import base64
import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
from helpers import wait_for

from jupyter_jobs.client import EmbeddedClient

CLI = [sys.executable, "-m", "jupyter_jobs.cli"]
KERNEL_HARNESS = Path(__file__).resolve().parents[1] / "kernel" / "conftest.py"


def jobs(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def sacct(run_id: str) -> list[str]:
    """JobName|State|ExitCode|Partition of the ended Slurm jobs named `run_id`, once the accounting has them
    (slurmctld reports to slurmdbd a moment after the job ends)."""
    def ended():
        rows = subprocess.run(["sacct", "-X", "-n", "-P", f"--name={run_id}", "-o", "JobName,State,ExitCode,Partition"],
                              capture_output=True, text=True, check=True).stdout.split()
        return rows if rows and all(row.split("|")[1] not in ("PENDING", "RUNNING") for row in rows) else None

    return wait_for(ended, timeout=60, message=f"the accounting of {run_id}", interval=0.2)


def test_datasphere_config_job(tmp_path, jobs_data_dir, with_shared_envs):
    (tmp_path / "src").mkdir()
    (tmp_path / "misc").mkdir()
    (tmp_path / "src" / "main.py").write_text(textwrap.dedent("""\
        import argparse, json, os, sys
        p = argparse.ArgumentParser()
        p.add_argument("--params"); p.add_argument("--model"); p.add_argument("--epochs", type=int)
        a = p.parse_args()
        params = json.load(open(a.params))
        for epoch in range(a.epochs):
            with open(os.environ["JOB_PROGRESS_FILENAME"], "a") as fh:
                progress = {"progress": 100 * (epoch + 1) / a.epochs, "message": f"epoch {epoch + 1}"}
                fh.write(json.dumps(progress) + "\\n")
        os.makedirs("other", exist_ok=True)
        open(a.model, "w").write(f"model lr={params['lr']}")
        open("other/metrics.png", "wb").write(b"\\x89PNG fake")
        print("trained", params["lr"], os.environ["DEVICE_COUNT"], "slurm job", os.environ["SLURM_JOB_NAME"])
        print("a warning", file=sys.stderr)
        """))
    (tmp_path / "misc" / "logging.yaml").write_text("level: INFO\n")
    (tmp_path / "params.json").write_text('{"lr": 0.01}')
    (tmp_path / "config.yaml").write_text(textwrap.dedent("""\
        name: simple-python-script
        desc: Program description
        cmd: >
          python3 src/main.py
            --params ${PARAMS}
            --model ${MODEL}
            --epochs 5
        inputs:
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
          python: auto
        cloud-instance-type: c1.4
        """))
    proc = jobs("execute", "-c", "config.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run = json.loads(jobs("list", "--format", "json", cwd=tmp_path).stdout)[0]
    assert "trained 0.01 8 slurm job " + run["id"] in proc.stdout
    assert "a warning" in proc.stderr
    assert (tmp_path / "data" / "model.bin").read_text() == "model lr=0.01"
    assert (tmp_path / "other" / "metrics.png").read_bytes() == b"\x89PNG fake"
    assert (run["executor"], run["status"], run["exit_code"]) == ("slurm", "SUCCEEDED", 0)
    assert (run["progress"], run["progress_message"]) == (100.0, "epoch 5")
    assert sacct(run["id"]) == [f"{run['id']}|COMPLETED|0:0|debug"]


def test_parametrised_notebook_run(tmp_path, with_shared_envs):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("alpha = 1\nlabel = 'default'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params,
                nbformat.v4.new_code_cell("import os\n"
                                          "print('label', label, 'alpha', alpha, 'on', os.environ['SLURM_JOB_NAME'])"),
                nbformat.v4.new_code_cell("from IPython.display import HTML\nHTML(f'<b>{alpha * 2}</b>')"),
                nbformat.v4.new_code_cell("open('done.txt', 'w').write(label)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "analysis.ipynb")
    done = jobs("run", "analysis.ipynb", "-p", "alpha", "3", "-p", "label", "slurmed", "--outputs", "done.txt",
                cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run = json.loads(jobs("list", "--format", "json", cwd=tmp_path).stdout)[0]
    assert f"label slurmed alpha 3 on {run['id']}" in done.stdout
    assert "progress 100%" in done.stderr
    executed = json.loads((tmp_path / f"analysis-{run['id']}.ipynb").read_text())
    assert "<b>6</b>" in json.dumps(executed["cells"])
    assert (tmp_path / "done.txt").read_text() == "slurmed"
    assert (run["kind"], run["executor"], run["status"]) == ("notebook", "slurm", "SUCCEEDED")


def test_cell_job_with_variables_both_ways_and_a_plot(jobs_data_dir, shared_envs, tmp_path):
    spec = importlib.util.spec_from_file_location("kernel_harness", KERNEL_HARNESS)  # the kernel tests' harness
    harness = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    work = tmp_path / "work"
    work.mkdir()
    kernel = harness.start_kernel(jobs_data_dir, shared_envs, work)
    try:
        kernel.ok("import numpy as np\nn = 41\nconfig = {'lr': 0.1}\narr = np.arange(6, dtype='float32')")
        reply = kernel.ok("""%%job --in n,config --out n2,config2,arr2
import os
import matplotlib.pyplot as plt
n2 = n + 1
config2 = dict(config, lr=config["lr"] * 2)
arr2 = arr * 2
plt.plot(arr2)
plt.show()
print("ran as Slurm job", os.environ["SLURM_JOB_NAME"])
""")
        assert kernel.value("n2") == 42
        assert kernel.value("config2") == {"lr": 0.2}
        assert kernel.value("(type(arr2).__name__, str(arr2.dtype), arr2.tolist())") == (
            "ndarray", "float32", [0.0, 2.0, 4.0, 6.0, 8.0, 10.0])
        png = [m["content"]["data"]["image/png"] for m in reply.of_type("display_data")
               if "image/png" in m["content"]["data"]]
        assert base64.b64decode(png[0]).startswith(b"\x89PNG")
        run = EmbeddedClient().list(limit=1)[0]
        assert (run.executor, run.status) == ("slurm", "SUCCEEDED")
        assert f"ran as Slurm job {run.id}" in reply.text()
        assert sacct(run.id) == [f"{run.id}|COMPLETED|0:0|debug"]
    finally:
        kernel.kc.stop_channels()
        kernel.km.shutdown_kernel(now=True)
