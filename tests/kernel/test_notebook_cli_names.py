"""A notebook run as `get`/`list --format json` show it (its executed notebook under its one name, never
the staging path or the run-dir location), and `fork --lenient` passing a parameter the notebook does
not take, as `run --lenient` does."""

from __future__ import annotations

import json

from kernel.test_notebook_jobs import jobs, make_notebook, outputs_of


def test_get_json_names_the_executed_notebook_once(tmp_path, shared_env_dir):
    nb = make_notebook(tmp_path)
    done = jobs("run", str(nb), "-p", "alpha", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run_id = json.loads(jobs("list", "--format", "json").stdout)[0]["id"]
    executed = str(tmp_path / f"analysis-{run_id}.ipynb")
    got = jobs("get", run_id, "--format", "json")
    assert got.returncode == 0, got.stderr
    data = json.loads(got.stdout)
    assert data["executed_notebook"] == executed
    assert [e["name"] for e in data["outputs"] if e["executed_notebook"]] == [executed]
    listed = jobs("list", "--format", "json").stdout
    for text in (got.stdout, listed):
        assert "_outputs/" not in text and "OUTPUT_NOTEBOOK/" not in text and ".job-output.ipynb" not in text
    assert json.loads(listed)[0]["executed_notebook"] == executed

    (tmp_path / "c.yaml").write_text("cmd: 'true'\n")
    assert jobs("execute", "-c", "c.yaml", cwd=tmp_path).returncode == 0
    assert json.loads(jobs("list", "--format", "json").stdout)[0]["executed_notebook"] is None


def test_fork_lenient_passes_an_unknown_parameter_with_a_note(tmp_path, shared_env_dir):
    nb = make_notebook(tmp_path)
    parent = jobs("run", str(nb), "-p", "alpha", "2", cwd=tmp_path)
    assert parent.returncode == 0, parent.stderr
    parent_id = json.loads(jobs("list", "--format", "json").stdout)[0]["id"]
    refused = jobs("fork", parent_id, "-p", "extra", "7", cwd=tmp_path)
    assert refused.returncode == 2 and "has no parameter 'extra'" in refused.stderr
    assert "--lenient passes them anyway" in refused.stderr
    fork = jobs("fork", parent_id, "-p", "extra", "7", "-p", "alpha", "3", "--lenient", cwd=tmp_path)
    assert fork.returncode == 0, fork.stderr
    child = json.loads(jobs("list", "--format", "json").stdout)[0]
    assert child["parent_id"] == parent_id and child["status"] == "SUCCEEDED"
    assert any("no parameter 'extra'" in note and "passed anyway" in note for note in child["notes"])
    assert "no parameter 'extra'" in fork.stderr + fork.stdout  # the note is shown while it runs
    executed = tmp_path / f"analysis-{child['id']}.ipynb"
    assert "label default alpha 3" in json.dumps(outputs_of(executed))
    injected = json.loads(executed.read_text())["cells"]
    assert any("extra = 7" in "".join(c["source"]) for c in injected)
