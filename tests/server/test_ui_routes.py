"""The routes the Lab UI needs: notebook parameters, running a notebook under the root, copying an output
into the root to open it, a run's environment."""

from __future__ import annotations

import sys

import nbformat

PARAMS = "alpha = 1\nlabel = 'x'\nratio: float = 2\nflag = True\nitems = [1, 2]"


def make_notebook(folder, name="nb.ipynb", params=PARAMS):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell("print(alpha)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / name)
    return folder / name


async def test_notebook_parameters_are_inferred_and_typed(api, jp_root_dir):
    make_notebook(jp_root_dir / "sub")
    code, body, _ = await api("notebooks", "parameters", params={"path": "sub/nb.ipynb"})
    assert code == 200, body
    assert body["has_parameters_cell"] is True
    got = {p["name"]: (p["type"], p["default"], p["value"]) for p in body["parameters"]}
    assert got == {"alpha": ("int", "1", 1), "label": ("str", "'x'", "x"), "ratio": ("float", "2", 2),
                   "flag": ("bool", "True", True), "items": ("list", "[1, 2]", [1, 2])}


async def test_notebook_paths_stay_inside_the_root(api, jp_root_dir, tmp_path):
    make_notebook(jp_root_dir)
    (jp_root_dir / "text.ipynb").write_text("not json")
    for path, status in [("../nb.ipynb", 422), ("/../etc/passwd", 422), ("missing.ipynb", 404),
                         ("text.ipynb", 422)]:
        code, body, _ = await api("notebooks", "parameters", params={"path": path})
        assert code == status, (path, body)
        assert body["message"]
    code, body, _ = await api("notebooks", "run", method="POST", body={"path": "../nb.ipynb"})
    assert code == 422 and body["field"] == "path", body
    code, body, _ = await api("notebooks", "run", method="POST", body={"path": "nb.ipynb", "bogus": 1})
    assert code == 422, body


async def test_run_notebook_refuses_unknown_parameters_before_submitting(api, jp_root_dir):
    make_notebook(jp_root_dir)
    code, body, _ = await api("notebooks", "run", method="POST",
                              body={"path": "nb.ipynb", "parameters": {"alpah": 3}})
    assert code == 400, body
    assert "alpah" in body["message"] and "alpha" in body["hint"]
    code, runs, _ = await api("runs")
    assert runs["runs"] == []


async def test_export_copies_an_output_into_the_root_and_environment_is_shown(api, wait_run, jp_root_dir):
    cmd = (f"{sys.executable} -c \"import os; os.makedirs('out', exist_ok=True); "
           f"open('out/r.txt', 'w').write('hello')\"")
    code, run, _ = await api("runs", method="POST", body={
        "spec": {"name": "exp", "cmd": cmd, "outputs": [{"path": "out/"}], "env": {"vars": {"A": "1"}}}})
    assert code == 201, run
    run = await wait_run(run["id"])
    assert run["status"] == "SUCCEEDED", run
    code, manifest, _ = await api("runs", run["id"], "outputs")
    path = manifest["outputs"][0]["files"][0]["path"]
    code, body, _ = await api("runs", run["id"], "export", method="POST", body={"path": path})
    assert code == 200, body
    assert body["path"] == f"jobs-outputs/{run['id']}/{path}"
    assert (jp_root_dir / body["path"]).read_text() == "hello" and body["size"] == 5
    code, body, _ = await api("runs", run["id"], "export", method="POST", body={"path": "../../etc/passwd"})
    assert code == 400, body
    code, body, _ = await api("runs", run["id"], "export", method="POST", body={"path": "out/nope.txt"})
    assert code == 404, body

    code, env, _ = await api("runs", run["id"], "environment")
    assert code == 200, env
    assert env["kind"] == "plain" and env["env_vars"] == ["A"] and env["requirements"] == []
    code, env, _ = await api("runs", "zzzzzzzz", "environment")
    assert code == 404, env


async def test_a_notebook_runs_parameters_for_the_fork_form(api, jp_root_dir):
    make_notebook(jp_root_dir)
    code, run, _ = await api("notebooks", "run", method="POST",
                             body={"path": "nb.ipynb", "parameters": {"alpha": 7, "label": "seven"}})
    assert code == 201, run
    (jp_root_dir / "nb.ipynb").unlink()  # what the run stored is what counts
    code, body, _ = await api("runs", run["id"], "parameters")
    assert code == 200, body
    got = {p["name"]: (p["default"], p["value"]) for p in body["parameters"]}
    assert got["alpha"] == ("1", 7) and got["label"] == ("'x'", "seven") and got["ratio"] == ("2", 2)
    assert body["path"] == "nb.ipynb" and body["has_parameters_cell"] is True

    code, err, _ = await api("runs", run["id"], "fork", method="POST", body={"parameters": {"alpah": 1}})
    assert code == 422 and "alpah" in err["message"] and "alpha" in err["hint"], err
    code, fork, _ = await api("runs", run["id"], "fork", method="POST", body={"parameters": {"alpha": 8}})
    assert code == 201 and fork["parent_id"] == run["id"], fork
    code, body, _ = await api("runs", fork["id"], "parameters")
    assert {p["name"]: p["value"] for p in body["parameters"]}["alpha"] == 8
    assert {p["name"]: p["value"] for p in body["parameters"]}["label"] == "seven"

    code, plain, _ = await api("runs", method="POST", body={"spec": {"cmd": "true"}})
    for call in (api("runs", plain["id"], "parameters"),
                 api("runs", plain["id"], "fork", method="POST", body={"parameters": {"alpha": 1}})):
        code, err, _ = await call
        assert code == 422 and "not a notebook job" in err["message"], err
    code, err, _ = await api("runs", "zzzzzzzz", "parameters")
    assert code == 404, err
    for run_id in (run["id"], fork["id"]):
        await api("runs", run_id, "cancel", method="POST", body={})
