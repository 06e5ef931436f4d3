"""Notebook jobs (papermill in the job): `jupyter jobs run` and `%job run`, typed parameters checked
before submit, the executed notebook always brought back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

CLI = [sys.executable, "-m", "jupyter_jobs.cli"]


def make_notebook(folder: Path, name: str = "analysis.ipynb") -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("alpha = 1\nlabel = 'default'\nratio = 0.5")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# An analysis"),
        params,
        nbformat.v4.new_code_cell("print('label', label, 'alpha', alpha, type(alpha).__name__, type(ratio).__name__)"),
        nbformat.v4.new_code_cell("from IPython.display import HTML\nHTML(f'<b>{alpha * 2}</b>')"),
        nbformat.v4.new_code_cell("assert alpha < 5, f'alpha is too big: {alpha}'\nopen('done.txt', 'w').write('ok')"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / name
    nbformat.write(nb, path)
    return path


def jobs(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), cwd=cwd, capture_output=True, text=True, timeout=600)


def outputs_of(path: Path) -> list:
    nb = json.loads(path.read_text())
    return [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]


def test_cli_run_with_typed_parameters(tmp_path, shared_env_dir):
    nb = make_notebook(tmp_path)
    (tmp_path / "params.yaml").write_text("label: from-file\nratio: 2\n")
    done = jobs("run", str(nb), "-f", str(tmp_path / "params.yaml"), "-p", "alpha", "3",
                "--outputs", "done.txt", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "label from-file alpha 3 int int" in done.stdout
    assert "progress 100% cell" in done.stderr
    runs = json.loads(jobs("list", "--format", "json").stdout)
    executed = tmp_path / f"analysis-{runs[0]['id']}.ipynb"
    assert executed.exists(), list(tmp_path.iterdir())
    texts = json.dumps(outputs_of(executed))
    assert "<b>6</b>" in texts and "label from-file alpha 3" in texts
    assert (tmp_path / "done.txt").read_text() == "ok"
    assert runs[0]["kind"] == "notebook" and runs[0]["status"] == "SUCCEEDED"


def test_unknown_parameter_is_refused_before_submit(tmp_path, shared_env_dir):
    nb = make_notebook(tmp_path)
    refused = jobs("run", str(nb), "-p", "alpah", "3")
    assert refused.returncode == 2
    assert "no parameter 'alpah'" in refused.stderr and "alpha, label, ratio" in refused.stderr
    assert json.loads(jobs("list", "--format", "json").stdout) == []


def test_fork_changes_a_notebook_runs_parameters(tmp_path, shared_env_dir):
    """The fork keeps the parent's other parameters and runs the notebook stored with the parent, so
    it works after the notebook changed or moved."""
    nb = make_notebook(tmp_path)
    parent = jobs("run", str(nb), "-p", "label", "first", "-p", "alpha", "2", cwd=tmp_path)
    assert parent.returncode == 0, parent.stderr
    parent_id = json.loads(jobs("list", "--format", "json").stdout)[0]["id"]
    nb.unlink()
    fork = jobs("fork", "--id", parent_id, "-p", "alpha", "4", cwd=tmp_path)
    assert fork.returncode == 0, fork.stderr
    assert "label first alpha 4 int float" in fork.stdout
    child = json.loads(jobs("list", "--format", "json").stdout)[0]
    assert child["parent_id"] == parent_id and child["status"] == "SUCCEEDED"
    executed = tmp_path / f"analysis-{child['id']}.ipynb"  # named like a `run`'s, nothing left staged
    assert "label first alpha 4" in json.dumps(outputs_of(executed))
    assert not (tmp_path / "analysis.job-output.ipynb").exists()
    for name, hint in (("alpah", "its parameters: alpha, label, ratio"), ("x", None)):
        refused = jobs("fork", "--id", parent_id, "-p", name, "1", cwd=tmp_path)
        assert refused.returncode == 2 and f"has no parameter '{name}'" in refused.stderr
        assert hint is None or hint in refused.stderr
    (tmp_path / "c.yaml").write_text("cmd: 'true'\n")
    assert jobs("execute", "-c", "c.yaml", cwd=tmp_path).returncode == 0
    command_id = json.loads(jobs("list", "--format", "json").stdout)[0]["id"]
    refused = jobs("fork", "--id", command_id, "-p", "alpha", "1", cwd=tmp_path)
    assert refused.returncode == 2 and "not a notebook job" in refused.stderr
    assert len(json.loads(jobs("list", "--format", "json").stdout)) == 3  # nothing created by a refusal


def test_failing_notebook_comes_back_with_its_error(tmp_path, shared_env_dir):
    nb = make_notebook(tmp_path)
    out = tmp_path / "out" / "failed.ipynb"
    failed = jobs("run", str(nb), "-p", "alpha", "9", "-o", str(out))
    assert failed.returncode != 0
    assert "cell 4 failed: AssertionError: alpha is too big: 9" in failed.stderr
    errors = [o for o in outputs_of(out) if o["output_type"] == "error"]
    assert errors and errors[0]["ename"] == "AssertionError"
    run = json.loads(jobs("list", "--format", "json").stdout)[0]
    assert run["status"] == "FAILED" and "AssertionError" in run["error"]


def test_python_api_runs_a_notebook_and_names_the_executed_one(tmp_path, shared_env_dir, monkeypatch):
    from jupyter_jobs import Job, JobFailed

    monkeypatch.setenv("JUPYTER_JOBS_URL", "embedded")
    nb = make_notebook(tmp_path)
    run = Job.from_notebook(nb, parameters={"alpha": 2, "label": "api"}, outputs=["done.txt"]).submit()
    final = run.result()
    executed = tmp_path / f"analysis-{run.id}.ipynb"
    assert final.kind == "notebook" and executed in run.files and run.executed_notebook == executed
    assert "label api alpha 2 int" in json.dumps(outputs_of(executed))
    assert (tmp_path / "done.txt").read_text() == "ok"
    with pytest.raises(JobFailed, match="alpha is too big: 9"):
        Job.from_notebook(nb, parameters={"alpha": 9}).submit().result()


def test_job_run_magic(kernel, client):
    nb = make_notebook(kernel.cwd)
    reply = kernel.ok(f"%job run {nb.name} -p alpha 2 -p label magic")
    assert "label magic alpha 2 int" in reply.text()
    assert any("<b>4</b>" in m["content"]["data"].get("text/html", "") for m in reply.of_type("display_data"))
    run = client.list(limit=1)[0]
    assert run.status == "SUCCEEDED" and run.kind == "notebook"
    assert (kernel.cwd / f"analysis-{run.id}.ipynb").exists()
    # progress (cells done / total) reached the status line
    assert any("5/5" in m["content"]["data"].get("text/html", "") or "100%" in
               m["content"]["data"].get("text/html", "") for m in reply.of_type("update_display_data"))

    refused = kernel.execute(f"%job run {nb.name} -p nope 1")
    assert refused.status == "error" and refused.content["ename"] == "UsageError"
    assert "no parameter 'nope'" in refused.content["evalue"]

    failed = kernel.execute(f"%job run {nb.name} -p alpha 10 -o failed.ipynb")
    assert failed.status == "error" and "alpha is too big: 10" in failed.content["evalue"]
    assert (kernel.cwd / "failed.ipynb").exists()
