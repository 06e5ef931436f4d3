"""What the Lab's run panel and "Run as job" form rely on, with real notebook jobs (papermill in the job):
a form's `2.0` in a float field is injected as `2.0`, outputs go by the one name the CLI uses (never the run
directory's `_outputs/OUTPUT_NOTEBOOK`), exports go where asked, a failed notebook's traceback is given."""

from __future__ import annotations

import json

import nbformat
import pytest

from jupyter_jobs.runner.protocol import EXECUTED_NOTEBOOK_VAR

ENV_BUILD = 600  # s: the first notebook job builds its environment (papermill, ipykernel) with uv


def make_notebook(folder, name="panel.ipynb"):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("alpha = 1\nratio: float = 1.5\nlabel = 'x'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("print('ratio', repr(ratio), type(ratio).__name__)"),
                nbformat.v4.new_code_cell("assert alpha < 5, f'alpha is too big: {alpha}'")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / name)
    return folder / name


def injected_source(path) -> str:
    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", []))
    return "".join(cell["source"])


async def test_typed_float_is_injected_as_typed_and_outputs_go_by_one_name(api, wait_run, jp_root_dir):
    make_notebook(jp_root_dir)
    typed = {"ratio": {"type": "float", "text": "2.0"}, "alpha": {"type": "int", "text": "3"},
             "label": {"type": "str", "text": "2.0"}}
    code, run, _ = await api("notebooks", "run", method="POST", body={"path": "panel.ipynb",
                                                                      "typed_parameters": typed})
    assert code == 201, run
    assert run["origin"]["parameters"] == {"ratio": "2.0", "alpha": "3", "label": '"2.0"'}
    run = await wait_run(run["id"], timeout=ENV_BUILD)
    assert run["status"] == "SUCCEEDED", run

    code, summary, _ = await api("runs", run["id"], "summary")
    assert code == 200, summary
    name = f"panel-{run['id']}.ipynb"
    assert summary["executed_notebook"] == name and summary["traceback"] is None
    assert [(o["name"], o["executed_notebook"]) for o in summary["outputs"]] == [(name, True)]
    assert EXECUTED_NOTEBOOK_VAR not in json.dumps({k: v for k, v in summary.items() if k != "outputs"})

    # Export with no destination: where the CLI brings it back, under the same name.
    path = summary["outputs"][0]["path"]
    code, exported, _ = await api("runs", run["id"], "export", method="POST", body={"path": path})
    assert code == 200 and exported["path"] == name, exported
    injected = injected_source(jp_root_dir / name)
    assert "ratio = 2.0\n" in injected and "alpha = 3\n" in injected and 'label = "2.0"' in injected, injected
    assert "ratio 2.0 float" in json.dumps(json.loads((jp_root_dir / name).read_text())["cells"])

    # An explicit destination is used as given (a file, or a folder ending in /).
    for dest, where in (("exports/mine.ipynb", "exports/mine.ipynb"), ("exports/", f"exports/{name}")):
        code, exported, _ = await api("runs", run["id"], "export", method="POST", body={"path": path, "dest": dest})
        assert code == 200 and exported["path"] == where, exported
        assert injected_source(jp_root_dir / where) == injected
    code, err, _ = await api("runs", run["id"], "export", method="POST", body={"path": path, "dest": "../out.ipynb"})
    assert code == 422 and err["field"] == "dest", err

    # A fork from the form: the typed float again, shown as injected.
    code, fork, _ = await api("runs", run["id"], "fork", method="POST",
                              body={"typed_parameters": {"ratio": {"type": "float", "text": "4.0"}}})
    assert code == 201, fork
    assert fork["origin"]["parameters"] == {"ratio": "4.0", "alpha": "3", "label": '"2.0"'}
    code, params, _ = await api("runs", fork["id"], "parameters")
    assert {p["name"]: p["value"] for p in params["parameters"]}["ratio"] == 4.0
    await wait_run(fork["id"], timeout=ENV_BUILD)


@pytest.mark.parametrize("typed, field", [
    ({"ratio": {"type": "float", "text": "two"}}, "typed_parameters.ratio"),
    ({"alpha": {"type": "int", "text": "2.5"}}, "typed_parameters.alpha"),
    ({"alpha": {"type": "complex", "text": "1"}}, "typed_parameters.alpha.type"),
])
async def test_a_typed_parameter_that_does_not_read_as_its_type_is_refused(api, jp_root_dir, typed, field):
    make_notebook(jp_root_dir)
    code, err, _ = await api("notebooks", "run", method="POST", body={"path": "panel.ipynb",
                                                                      "typed_parameters": typed})
    assert code == 422 and err["field"] == field, err
    code, runs, _ = await api("runs")
    assert runs["runs"] == []


async def test_failed_notebook_gives_its_failing_cells_traceback(api, wait_run, jp_root_dir):
    make_notebook(jp_root_dir)
    code, run, _ = await api("notebooks", "run", method="POST", body={"path": "panel.ipynb",
                                                                      "parameters": {"alpha": 9}})
    assert code == 201, run
    run = await wait_run(run["id"], timeout=ENV_BUILD)
    assert run["status"] == "FAILED", run
    code, summary, _ = await api("runs", run["id"], "summary")
    assert code == 200, summary
    assert 'Exception encountered at "In [' in summary["traceback"], summary
    assert "AssertionError: alpha is too big: 9" in summary["traceback"], summary
    assert "\x1b[" not in summary["traceback"]
    # The executed notebook still comes back, by its one name.
    assert summary["executed_notebook"] == f"panel-{run['id']}.ipynb"


async def test_export_of_a_declared_output_uses_that_name(jobs_app, wait_run, api, jp_root_dir):
    """`jupyter jobs run in.ipynb out.ipynb`: the executed notebook is out.ipynb, in the Lab too."""
    import asyncio

    from jupyter_jobs.client import EmbeddedClient
    from jupyter_jobs.notebook.build import Options, prepare_notebook
    from jupyter_jobs.submit import submit_prepared

    nb = make_notebook(jp_root_dir)
    service = await jobs_app.service()
    settings = jobs_app.jobs_settings
    prepared = prepare_notebook(nb, {"ratio": 2.0}, Options(), settings, jp_root_dir / "results" / "out.ipynb")
    run = await asyncio.get_running_loop().run_in_executor(
        None, lambda: submit_prepared(EmbeddedClient(settings, service), prepared, str(nb)))
    done = await wait_run(run.id, timeout=ENV_BUILD)
    assert done["status"] == "SUCCEEDED", done
    code, summary, _ = await api("runs", run.id, "summary")
    assert summary["executed_notebook"] == "results/out.ipynb", summary
    code, exported, _ = await api("runs", run.id, "export", method="POST",
                                  body={"path": summary["outputs"][0]["path"]})
    assert code == 200 and exported["path"] == "results/out.ipynb", exported
    assert "ratio = 2.0\n" in injected_source(jp_root_dir / "results" / "out.ipynb")
