"""`notebook/papermill_parts.py` answers as papermill does (its `-p` typing, YAML loader, notebook reading
and parameter inference), and a notebook run's submit side imports none of papermill's executor."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from papermill.cli import _resolve_type
from papermill.inspection import _infer_parameters
from papermill.iorw import NoDatesSafeLoader, load_notebook_node

from jupyter_jobs.notebook import papermill_parts

NOTEBOOKS = Path(__import__("papermill").__file__).parent / "tests" / "notebooks"


@pytest.mark.parametrize("text", ["True", "False", "None", "true", "1", "-3", "1_000", "0x10", "1e3", "2.0", ".5",
                                  "nan", "inf", "-inf", "1,5", "yes", "", " 7 ", "3j", "٣", "None "])
def test_resolve_type_is_papermills(text):
    ours, theirs = papermill_parts.resolve_type(text), _resolve_type(text)
    assert type(ours) is type(theirs) and (ours == theirs or (ours != ours and theirs != theirs))


def test_yaml_loader_is_papermills():
    text = "d: 2024-01-02\nt: 2024-01-02 03:04:05\nn: 1e3\nb: yes\nl: [1, x]\n"
    assert yaml.load(text, Loader=papermill_parts.NoDatesSafeLoader) == yaml.load(text, Loader=NoDatesSafeLoader)


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_reading_and_inference_are_papermills(path):
    try:
        theirs = load_notebook_node(str(path))
        expected = _infer_parameters(theirs)
    except Exception as exc:  # a notebook papermill cannot read or inspect: neither can we
        with pytest.raises(type(exc)):
            papermill_parts.infer_parameters(papermill_parts.read_notebook(path))
        return
    ours = papermill_parts.read_notebook(path)
    assert [c.source for c in ours.cells] == [c.source for c in theirs.cells]
    assert [c.metadata.tags for c in ours.cells] == [c.metadata.tags for c in theirs.cells]
    assert [tuple(p) for p in papermill_parts.infer_parameters(ours)] == [tuple(p) for p in expected]


def test_an_old_format_notebook_goes_through_papermill(tmp_path):
    cell = {"cell_type": "code", "input": "a = 1", "language": "python", "metadata": {"tags": ["parameters"]},
            "outputs": []}
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": [{"cells": [cell]}],
                                "metadata": {"kernelspec": {"name": "python3", "language": "python"}}}))
    assert [p.name for p in papermill_parts.infer_parameters(papermill_parts.read_notebook(path))] == ["a"]


def test_submit_side_imports_no_papermill_executor(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]})],
                                  metadata={"kernelspec": {"name": "python3", "language": "python",
                                                           "display_name": "Python 3"}})
    nbformat.write(nb, tmp_path / "nb.ipynb")
    heavy = ("papermill", "nbformat", "nbclient", "jsonschema", "IPython")
    code = ("import sys\nfrom jupyter_jobs.notebook.parameters import check_parameters, injected_literals, "
            "load_parameters\nfrom jupyter_jobs.notebook.papermill_parts import read_notebook\n"
            "p = load_parameters([['x', '3']], yamls=['y: 2024-01-01'])\n"
            "print(check_parameters(read_notebook(sys.argv[1]), None, {'x': 3}), injected_literals({'x': 2.0}), p)\n"
            f"print(sorted(m for m in {heavy} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "nb.ipynb")], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == ["[] {'x': '2.0'} {'y': '2024-01-01', 'x': 3}", "[]"]


def test_a_notebook_without_kernelspec_is_read_as_python(tmp_path):
    """papermill refuses a notebook that names no kernel; the job runs it on `python3`, so its parameters
    are inferred as Python's."""
    cell = nbformat.v4.new_code_cell("alpha: float = 0.5  # the rate", metadata={"tags": ["parameters"]})
    path = tmp_path / "bare.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    with pytest.raises(ValueError, match="No kernel name"):
        _infer_parameters(load_notebook_node(str(path)))
    [param] = papermill_parts.infer_parameters(papermill_parts.read_notebook(path))
    assert (param.name, param.inferred_type_name, param.default, param.help) == ("alpha", "float", "0.5", "the rate")
