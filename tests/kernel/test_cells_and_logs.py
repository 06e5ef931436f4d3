"""What a `%%job` cell shows, in a real kernel: tracebacks naming the kernel's own cells, stream output
merged as a kernel's own, a status line readable as text, runs named after their notebook and cell
(and `jupyter jobs list` showing where runs came from and a notebook run's parameters)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import nbformat
from kernel_helpers import start_kernel

CLI = [sys.executable, "-m", "jupyter_jobs.cli"]
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def plain(lines: list[str]) -> str:
    return _ANSI.sub("", "\n".join(lines))


def jobs(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), cwd=cwd, capture_output=True, text=True, timeout=600)


def test_traceback_names_the_cells_as_the_kernel_does(kernel):
    defined = kernel.ok("def helper(x):\n    y = x * 2\n    return y / 0\n").content["execution_count"]
    reply = kernel.execute("%%job\nz = 3\nhelper(z)\n")
    assert reply.status == "error"
    tb = plain(reply.content["traceback"])
    count = reply.content["execution_count"]
    # the %%job cell is this cell's In[N]; the function sent from an earlier cell is that cell's, with its lines
    assert f"Cell In[{count}], line 2" in tb, tb
    assert f"Cell In[{defined}], line 3, in helper(x)" in tb and "----> 3     return y / 0" in tb, tb
    assert "ipykernel_" not in tb and ".py:" not in tb and "In[1]" not in tb, tb


def test_one_print_is_one_stream_output(kernel):
    reply = kernel.ok("%%job\nimport sys\nfrom IPython.display import HTML, display\n"
                      "print('hello', 'world')\nprint('x' * 100_000)\nfor i in range(50):\n    print(i)\n"
                      "display(HTML('<i>between</i>'))\nprint('after', flush=True)\n"
                      "sys.stderr.write('a warning\\n')\n")
    streams = [(m["content"]["name"], m["content"]["text"]) for m in reply.of_type("stream")]
    stdout = "".join(text for name, text in streams if name == "stdout")
    assert stdout == "hello world\n" + "x" * 100_000 + "\n" + "".join(f"{i}\n" for i in range(50)) + "after\n"
    assert all(text.endswith("\n") for _, text in streams), streams  # no print is cut in two
    assert ("stdout", "after\n") in streams and ("stderr", "a warning\n") in streams
    assert len(streams) < 50  # lines printed together are merged, not one output per chunk


def test_status_line_reads_as_text(kernel, client):
    reply = kernel.ok("%%job\nprint('hi')")
    run = client.list(limit=1)[0]
    final = reply.of_type("update_display_data")[-1]["content"]["data"]
    assert re.fullmatch(rf"job {run.id} SUCCEEDED in \d+s \({re.escape(run.instance_type)} on local\)",
                        final["text/plain"]), final["text/plain"]
    assert "SUCCEEDED" in final["text/html"]
    first = reply.of_type("display_data")[0]["content"]["data"]
    assert first["text/plain"] == f"job {run.id} submitted"

    handle = kernel.ok("%%job --no-wait\nprint('later')").of_type("display_data")[-1]["content"]["data"]
    run = client.list(limit=1)[0]
    assert handle["text/plain"].startswith(f"job {run.id} ") and f"%job attach {run.id}" in handle["text/plain"]
    assert "later" in kernel.ok(f"%job attach {run.id}").text()


def test_cell_runs_are_named_after_their_notebook_and_cell(jobs_data_dir, shared_env_dir, tmp_path, monkeypatch,
                                                           client):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "project" / "analysis.ipynb"))  # as Jupyter sets it
    kernel = start_kernel(jobs_data_dir, work)
    try:
        count = kernel.ok("%%job\nprint('named')").content["execution_count"]
    finally:
        kernel.shutdown()
    run = client.list(limit=1)[0]
    assert run.name == f"analysis.ipynb [{count}]" and run.origin.source == run.name
    listed = jobs("list").stdout.splitlines()
    assert listed[0].split() == ["ID", "NAME", "STATUS", "INSTANCE", "CREATED", "DURATION", "EXIT", "SOURCE"]
    assert listed[1].endswith(f"analysis.ipynb [{count}]")


def test_without_a_notebook_a_run_is_named_after_its_cell(kernel, client):
    count = kernel.ok("%%job\nprint('unnamed')").content["execution_count"]
    run = client.list(limit=1)[0]
    assert run.name == f"cell [{count}]" == run.origin.source
    named = kernel.ok("%%job --name mine\nprint('named')").content["execution_count"]
    run = client.list(limit=1)[0]
    assert run.name == "mine" and run.origin.source == f"cell [{named}]"
    listed = kernel.ok("%job list").of_type("execute_result")[0]["content"]["data"]
    assert f"<td>cell [{count}]</td>" in listed["text/html"] and f"cell [{named}]" in listed["text/plain"]


def test_list_shows_a_notebook_runs_source_and_parameters(tmp_path, shared_env_dir, client):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("alpha = 1.0\nn = 1\nlabel = 'x'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("print(alpha * n, label)")]  # and papermill's injected cell
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "analysis.ipynb")
    done = jobs("run", "analysis.ipynb", "-p", "alpha", "0.5", "-p", "n", "3", "-p", "label", "a" * 40, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    notebook_run = client.list(limit=1)[0]
    progress = [e["progress"] for e in client.events(notebook_run.id)[0] if e["type"] == "progress"]
    assert progress == [0.0, 33.3, 66.7, 100.0]  # rounded where it is made, for every reader
    assert "progress 33% cell 1/3" in done.stderr
    (tmp_path / "config.yaml").write_text("cmd: echo from-config\n")
    assert jobs("execute", "-c", "config.yaml", cwd=tmp_path).returncode == 0
    header, config_row, notebook_row = jobs("list").stdout.splitlines()
    assert header.split()[-2:] == ["SOURCE", "PARAMETERS"]
    assert config_row.split()[-2:] == ["config.yaml", "-"]
    # short and ellipsised: the long label is cut
    shown = ('alpha=0.5 n=3 label="' + "a" * 40 + '"')[:27] + "..."
    assert notebook_row.endswith(f"analysis.ipynb  {shown}")
    run = json.loads(jobs("list", "--format", "json").stdout)[1]
    assert run["origin"]["parameters"] == {"alpha": "0.5", "n": "3", "label": f'"{"a" * 40}"'}


def test_a_first_environment_build_is_one_status_line_and_a_summary(kernel, client):
    reply = kernel.ok("%%job --pip six==1.16.0\nimport six\nprint(six.__version__)")
    assert reply.text() == "1.16.0\n"
    states = [m["content"]["data"]["text/plain"] for m in reply.of_type("display_data", "update_display_data")]
    building = [s for s in states if "preparing environment" in s]
    assert any("· building environment " in s for s in building), states
    assert any(re.search(r"· built environment \w+: \d+ packages in [\d.]+ s$", s) for s in building), states
    # uv's own lines (per package, "Activate with") are in the system log's detail, not in the cell
    assert not any("Activate with" in s or " + six" in s or "Resolved" in s for s in states), states
    system = client.logs(client.list(limit=1)[0].id, "system")
    assert "Resolved " in system and " + six==1.16.0" in system
