"""`list`, `get` and `logs` of finished runs read the index and the run dir only: a fresh CLI process
answering them imports none of the service stack (executors, Docker SDK, job environments, notebooks).
A live run is still settled through the service (the same `Reads`, given the service's settle)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from jupyter_jobs.connect import connect

HEAVY = ["jupyter_jobs.service.service", "jupyter_jobs.service.admission", "jupyter_jobs.service.scheduler",
         "jupyter_jobs.service.launch", "jupyter_jobs.executors", "jupyter_jobs.instances", "jupyter_jobs.pyenv",
         "jupyter_jobs.notebook.build", "docker", "ray", "nbformat", "nbclient", "papermill", "IPython", "alembic"]

PROBE = """
import json, sys
from jupyter_jobs.cli.commands import main
code = main(sys.argv[1:])
sys.stdout.flush()
print("\\nIMPORTED " + json.dumps(sorted(m for m in {heavy} if m in sys.modules)))
sys.exit(code)
"""


def cli_imports(*args: str, cwd: Path) -> tuple[str, list[str]]:
    proc = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out, _, imported = proc.stdout.rpartition("\nIMPORTED ")
    return out, json.loads(imported)


def test_reads_of_finished_runs_import_no_service_stack(tmp_path):
    (tmp_path / "config.yaml").write_text("name: light\ncmd: echo hello-light\n")
    done = subprocess.run([sys.executable, "-m", "jupyter_jobs.cli", "execute", "-c", "config.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    run_id = connect().list()[0].id

    listed, imported = cli_imports("list", "--format", "json", cwd=tmp_path)
    assert [r["id"] for r in json.loads(listed)] == [run_id] and imported == []
    got, imported = cli_imports("get", run_id[:6], "--format", "json", cwd=tmp_path)
    assert json.loads(got)["status"] == "SUCCEEDED" and imported == []
    logs, imported = cli_imports("logs", run_id, "--stream", "stdout", cwd=tmp_path)
    assert logs == "hello-light\n" and imported == []
    logs, imported = cli_imports("logs", run_id, "-t", cwd=tmp_path)
    assert "hello-light" in logs and imported == []


def test_a_live_run_is_settled_through_the_service(tmp_path):
    """A run still going may change when read: `get` settles it through the service, built for it."""
    (tmp_path / "config.yaml").write_text("name: live\ncmd: sleep 600\n")
    submitted = subprocess.run([sys.executable, "-m", "jupyter_jobs.cli", "execute", "-c", "config.yaml", "--async"],
                               cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert submitted.returncode == 0, submitted.stderr
    run_id = submitted.stdout.strip()
    got, imported = cli_imports("get", run_id, "--format", "json", cwd=tmp_path)
    assert json.loads(got)["status"] in ("PREPARING", "RUNNING") and "jupyter_jobs.service.service" in imported
    cancel = subprocess.run([sys.executable, "-m", "jupyter_jobs.cli", "cancel", run_id], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert cancel.returncode == 0, cancel.stderr
