"""The front doors, unchanged, on a real Ray head: a DataSphere config job from the CLI, a
parametrised notebook run, and a `%%job` cell with --in/--out variables and a plot."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

CLI = [sys.executable, "-m", "jupyter_jobs.cli"]


def jobs(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def last_run(cwd: Path) -> dict:
    return json.loads(jobs("list", "--format", "json", cwd=cwd).stdout)[0]


def test_datasphere_config_job(on_ray, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text(textwrap.dedent("""\
        import argparse, json, os, sys
        p = argparse.ArgumentParser()
        p.add_argument("--params"); p.add_argument("--model"); p.add_argument("--epochs", type=int)
        a = p.parse_args()
        params = json.load(open(a.params))
        progress = os.environ["JOB_PROGRESS_FILENAME"]
        for epoch in range(a.epochs):
            print(f"epoch {epoch} lr={params['lr']} device_count={os.environ['DEVICE_COUNT']}", flush=True)
            with open(progress, "a") as fh:
                fh.write(json.dumps({"progress": 100 * (epoch + 1) / a.epochs, "message": f"epoch {epoch}"}) + "\\n")
        os.makedirs(os.path.dirname(a.model), exist_ok=True)
        open(a.model, "w").write("weights")
        os.makedirs("other", exist_ok=True)
        open("other/metrics.png", "wb").write(b"\\x89PNG fake")
        sys.exit(3 if os.environ.get("FAIL") else 0)
        """))
    (tmp_path / "params.json").write_text('{"lr": 0.01}')
    (tmp_path / "config.yaml").write_text(textwrap.dedent(f"""\
        name: on-ray
        desc: a DataSphere config job on Ray
        cmd: >
          {sys.executable} src/main.py
            --params ${{PARAMS}}
            --model ${{MODEL}}
            --epochs 3
        inputs:
          - src/main.py
          - params.json:
              var: PARAMS
        outputs:
          - data/model.bin: MODEL
          - other/metrics.png
        env:
          vars:
            DEVICE_COUNT: 8
        cloud-instance-types:
          - c1.4
        """))
    done = jobs("execute", "-c", "config.yaml", "--executor", "ray", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "epoch 2 lr=0.01 device_count=8" in done.stdout
    assert (tmp_path / "data" / "model.bin").read_text() == "weights"
    assert (tmp_path / "other" / "metrics.png").read_bytes() == b"\x89PNG fake"
    run = last_run(tmp_path)
    assert (run["executor"], run["status"], run["progress"]) == ("ray", "SUCCEEDED", 100.0)
    logs = jobs("logs", "--id", run["id"], "--stream", "system", cwd=tmp_path).stdout
    assert "waiting for the Ray cluster" in logs

    (tmp_path / "config.yaml").write_text((tmp_path / "config.yaml").read_text().replace(
        "DEVICE_COUNT: 8", "DEVICE_COUNT: 8\n    FAIL: 'yes'"))
    failed = jobs("execute", "-c", "config.yaml", "--executor", "ray", cwd=tmp_path)
    assert failed.returncode != 0
    assert last_run(tmp_path)["exit_code"] == 3


def test_parametrised_notebook_run(on_ray, tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("alpha = 1\nlabel = 'default'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params,
                nbformat.v4.new_code_cell("print('label', label, 'alpha', alpha, type(alpha).__name__)"),
                nbformat.v4.new_code_cell("from IPython.display import HTML\nHTML(f'<b>{alpha * 2}</b>')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "analysis.ipynb")
    done = jobs("run", "analysis.ipynb", "-p", "alpha", "3", "-p", "label", "on-ray", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "label on-ray alpha 3 int" in done.stdout
    run = last_run(tmp_path)
    assert (run["executor"], run["kind"], run["status"]) == ("ray", "notebook", "SUCCEEDED")
    executed = json.loads((tmp_path / f"analysis-{run['id']}.ipynb").read_text())
    assert "<b>6</b>" in json.dumps(executed)


def test_cell_job_with_variables_and_a_plot(on_ray, tmp_path):
    from kernel.conftest import start_kernel

    work = tmp_path / "work"
    work.mkdir()
    envs = tmp_path / "kernel-envs"
    envs.mkdir()
    (on_ray / "envs").unlink()  # start_kernel links the data dir's envs to its own folder
    kernel = start_kernel(on_ray, envs, work)
    try:
        kernel.ok("import numpy as np\nn = 41\narr = np.arange(6, dtype='float32')")
        reply = kernel.ok("""%%job --in n --out n2,arr2
import matplotlib.pyplot as plt
n2 = n + 1
arr2 = arr * 2
print("on the cluster", flush=True)
plt.plot(arr2)
plt.show()
""", timeout=600)
        assert "on the cluster" in reply.text()
        assert "image/png" in reply.mimes()
        assert kernel.value("n2") == 42
        assert kernel.value("(str(arr2.dtype), arr2.tolist())") == ("float32", [0.0, 2.0, 4.0, 6.0, 8.0, 10.0])
        run = last_run(work)
        assert (run["executor"], run["kind"], run["status"]) == ("ray", "cell", "SUCCEEDED")
    finally:
        kernel.kc.stop_channels()
        kernel.km.shutdown_kernel(now=True)
