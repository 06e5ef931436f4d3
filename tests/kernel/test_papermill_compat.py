"""`jupyter jobs run` is a papermill drop-in: papermill's own test notebooks (from the installed
papermill package), run through `jupyter jobs run` (embedded, local executor) and through the
`papermill` command with the same `-p/-r/-f/-y` flags, give the same injected cells, the same outputs
(timing and execution metadata aside), the same typed parameters and the same exit code."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

papermill = pytest.importorskip("papermill")

NOTEBOOKS = Path(papermill.__file__).parent / "tests" / "notebooks"
CLI = [sys.executable, "-m", "jupyter_jobs.cli"]

#: papermill's test notebooks that run offline on a python3 kernel, each with papermill's flags.
#: `--lenient` is ours (papermill always is); it is not passed to papermill.
CASES = {
    "simple_execute.ipynb": ["-p", "msg", "yes"],
    "nb_version_4.4.ipynb": ["-p", "var", "1e3"],
    "result_no_exec.ipynb": ["-r", "foo", "5", "-p", "bar", "None"],
    "report_mode_test.ipynb": ["-f", "{params}", "-p", "b", "False"],
    "complex_parameters.ipynb": ["-y", "b: [1, 2]\nc: 2024-01-02", "-p", "msg", "True", "-r", "a", "2.5"],
    "no_parameters.ipynb": ["-p", "msg", "injected", "--lenient"],
    "broken1.ipynb": [],
    "line_magic_error.ipynb": [],
    "systemexit.ipynb": [],
    "test_logging.ipynb": [],
}

#: Cell metadata that differs from run to run (papermill's timings and status, nbclient's timings).
RUN_METADATA = ("papermill", "execution")
#: Where the kernel's packages are: the job's environment is not papermill's interpreter, so a warning
#: naming a file of IPython names another folder.
SITE_PACKAGES = re.compile(r"[\w./-]*/site-packages/")


def comparable(path: Path) -> dict:
    """A notebook's cells with their outputs, without cell ids and run metadata; and the parameters."""
    nb = json.loads(path.read_text())
    cells = []
    for cell in nb["cells"]:
        metadata = {k: v for k, v in cell.get("metadata", {}).items() if k not in RUN_METADATA}
        outputs = json.loads(SITE_PACKAGES.sub("<site-packages>/", json.dumps(cell.get("outputs"))))
        cells.append({"cell_type": cell["cell_type"], "source": cell["source"], "metadata": metadata,
                      "execution_count": cell.get("execution_count"), "outputs": outputs})
    return {"cells": cells, "parameters": nb["metadata"]["papermill"]["parameters"]}


def injected(notebook: dict) -> list[str]:
    return [c["source"] for c in notebook["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_run_matches_papermill(name, tmp_path, shared_env_dir):
    for side in ("papermill", "jobs"):
        (tmp_path / side).mkdir()
        shutil.copy(NOTEBOOKS / name, tmp_path / side / name)
    (tmp_path / "params.yaml").write_text("a: 2\nb: 3.5\n")
    flags = [arg.format(params=tmp_path / "params.yaml") for arg in CASES[name]]

    # Both at once: the comparison needs no order, and the test takes half the time.
    reference = subprocess.Popen([sys.executable, "-m", "papermill", name, "out.ipynb",
                                  *[f for f in flags if f != "--lenient"]], cwd=tmp_path / "papermill",
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ours = subprocess.run(CLI + ["run", name, "out.ipynb", *flags], cwd=tmp_path / "jobs",
                          capture_output=True, text=True, timeout=600)
    reference.stdout_text, reference.stderr = reference.communicate(timeout=300)

    assert ours.returncode == reference.returncode, (ours.stderr, reference.stderr)
    expected, got = comparable(tmp_path / "papermill" / "out.ipynb"), comparable(tmp_path / "jobs" / "out.ipynb")
    assert injected(got) == injected(expected)
    assert (not flags) or injected(got), "parameters were injected"
    assert got["parameters"] == expected["parameters"]
    assert got["cells"] == expected["cells"]
    if reference.returncode:  # the failing cell's traceback, as papermill prints it
        assert "Exception encountered at" in ours.stderr
        assert "without encryption" not in ours.stderr + ours.stdout


def test_parameter_flags_are_typed_as_papermill_types_them(tmp_path):
    """The same flags, parsed by papermill's CLI (its parameters end up in the notebook's metadata:
    `--prepare-only`, no kernel) and by ours, give the same values and types."""
    from jupyter_jobs.cli.commands import build_parser
    from jupyter_jobs.notebook.parameters import from_args

    (tmp_path / "p.yaml").write_text("x: 1\nwhen: 2024-01-02\ny: text\n")
    flags = ["-f", str(tmp_path / "p.yaml"), "-y", "z: [1, 2]", "-p", "msg", "yes", "-p", "n", "1e3",
             "-p", "t", "True", "-p", "f", "False", "-p", "none", "None", "-p", "i", "-7", "-r", "raw", "1.5",
             "-p", "x", "2"]
    done = subprocess.run([sys.executable, "-m", "papermill", str(NOTEBOOKS / "simple_execute.ipynb"),
                           str(tmp_path / "out.ipynb"), "--prepare-only", *flags], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    theirs = json.loads((tmp_path / "out.ipynb").read_text())["metadata"]["papermill"]["parameters"]
    ours = from_args(build_parser().parse_args(["run", "nb.ipynb", *flags]))
    assert ours == theirs
    assert ours["msg"] == "yes" and ours["n"] == 1000.0 and ours["when"] == "2024-01-02" and ours["raw"] == "1.5"


def test_unknown_parameters_are_refused_unless_lenient(tmp_path):
    """Before anything is submitted; `--lenient` warns as papermill does."""
    shutil.copy(NOTEBOOKS / "no_parameters.ipynb", tmp_path)
    shutil.copy(NOTEBOOKS / "simple_execute.ipynb", tmp_path)
    refused = subprocess.run(CLI + ["run", "no_parameters.ipynb", "-p", "msg", "x"], cwd=tmp_path,
                             capture_output=True, text=True)
    assert refused.returncode == 2 and "no cell tagged `parameters`" in refused.stderr
    assert "--lenient" in refused.stderr
    refused = subprocess.run(CLI + ["run", "simple_execute.ipynb", "-p", "mgs", "x"], cwd=tmp_path,
                             capture_output=True, text=True)
    assert refused.returncode == 2 and "no parameter 'mgs'" in refused.stderr
    assert "its parameters: msg" in refused.stderr
    listed = subprocess.run(CLI + ["list", "--format", "json"], capture_output=True, text=True)
    assert json.loads(listed.stdout) == []

    from papermill.iorw import load_notebook_node

    from jupyter_jobs.notebook.parameters import check_parameters

    nb = load_notebook_node(str(NOTEBOOKS / "simple_execute.ipynb"))
    assert check_parameters(nb, Path("simple_execute.ipynb"), {"mgs": 1}, lenient=True) == [
        "simple_execute.ipynb has no parameter 'mgs'; passed anyway"]
