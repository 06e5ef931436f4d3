"""runner/protocol.py is the one statement of the run's contracts: the pieces that use them agree."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_jobs.notebook.build import _SHIPPED
from jupyter_jobs.runner import protocol
from jupyter_jobs.runner.display import DisplayFrames
from jupyter_jobs.runner.protocol import FINAL_STATUSES, EventType, Plan, Status
from jupyter_jobs.server.openapi import document
from jupyter_jobs.service.schemas import Event, Run


def test_protocol_imports_only_the_standard_library():
    tree = ast.parse(Path(protocol.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and not node.level}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


def test_a_status_is_its_text_everywhere():
    assert f"{Status.RUNNING}" == str(Status.RUNNING) == "RUNNING"
    assert json.dumps({"status": Status.LOST}) == '{"status": "LOST"}'
    assert "FAILED" in FINAL_STATUSES and Status.QUEUED not in FINAL_STATUSES
    assert FINAL_STATUSES < set(Status)


def test_the_models_and_the_api_document_take_status_and_event_types_from_the_protocol():
    assert Run.model_fields["status"].annotation is Status
    assert Event.model_fields["type"].annotation is EventType
    schemas = document()["components"]["schemas"]
    assert schemas["Status"]["enum"] == [s.value for s in Status]
    assert schemas["EventType"]["enum"] == [t.value for t in EventType]
    assert set(schemas["FinalStatus"]["enum"]) == {s.value for s in FINAL_STATUSES}


def test_a_plan_survives_plan_json_and_unknown_keys_are_refused():
    plan = Plan(run_id="r1", cmd="echo hi", work_dir="/w",
                inputs=[protocol.PlanInput(dest="a.txt", blob="/blobs/ab", size=3)],
                outputs=[protocol.PlanOutput(name="out/", src="out")],
                mounts=[protocol.Mount(host="/data", inside="/mnt/data")],
                on_exit=protocol.OnExit(queue_dir="/q", argv=["python", "-m", "kick"]))
    assert Plan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    with pytest.raises(ValueError, match="unknown keys surprise"):
        Plan.from_dict(dict(plan.to_dict(), surprise=1))


def test_the_shipped_executor_writes_frames_the_runner_reads(tmp_path):
    """`.jobs/nbexec.py` runs without jupyter_jobs: it imports the protocol shipped beside it."""
    for dest, src in _SHIPPED.items():
        (tmp_path / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, tmp_path / dest)
    script = ("import sys; sys.path[0] = sys.argv[1]; import nbexec; "
              "nbexec.emit({'msg_type': 'display_data', 'data': {'text/plain': 'hi'}, 'metadata': {}})")
    out = subprocess.run([sys.executable, "-I", "-c", script, str(tmp_path / protocol.JOB_DIR)],
                         cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    parts = DisplayFrames().feed(out, final=True)
    assert parts == [("display", {"msg_type": "display_data", "data": {"text/plain": "hi"}, "metadata": {}})]
