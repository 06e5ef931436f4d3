"""Schemathesis against the running server's own `/jobs/openapi.json`: generated requests for every
operation, authenticated with the server's token. No answer may be a server error, and every answer must
conform to the document (status codes, media types, bodies).

Jobs that random submits would start are held in the queue (an operator limit of 0 on every instance
type but one) and cancelled there, as an operator would: the fuzzer never runs random commands on this
machine, and a live `/events` stream it opens ends. One real run, on the type left free, is finished
first and offered to the fuzzer as the example run id, so the routes of an existing run (logs, outputs,
export, fork, delete, ...) are exercised too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys

import pytest

pytest.importorskip("schemathesis", reason="schemathesis is in the `test` extra")

from jupyter_jobs.errors import JobsError  # noqa: E402
from jupyter_jobs.instances import Catalogue  # noqa: E402

FREE_TYPE = "c1.8"
#: Bounded for CI (about a minute here); raise them locally to search harder.
MAX_EXAMPLES = int(os.environ.get("JOBS_FUZZ_EXAMPLES", "30"))
SEED = os.environ.get("JOBS_FUZZ_SEED", "1")


def _held_back_types() -> dict[str, int]:
    return {t.name: 0 for t in Catalogue.load() if t.name != FREE_TYPE}


@pytest.fixture
def jobs_limits():
    # The schedules the fuzzer creates never fire: their random jobs are not run either.
    return {"max_per_instance_type": _held_back_types(), "schedule_poll_seconds": 86400}


async def cancel_queued(service) -> None:
    """Cancel every run waiting in the queue, over and over (the fuzzer's submits)."""
    while True:
        for run in await asyncio.to_thread(service.list, status=["QUEUED"], limit=1000):
            with contextlib.suppress(JobsError):
                await asyncio.to_thread(service.cancel, run.id, False, "cancelled by the fuzz test")
        await asyncio.sleep(0.2)


def with_examples(doc: dict, examples: dict[str, str]) -> dict:
    """The document with an `example` for these path parameters (the fuzzer's first try at each)."""
    for path in doc["paths"].values():
        for op in path.values():
            for param in op.get("parameters", []) if isinstance(op, dict) else []:
                if param.get("in") == "path" and param["name"] in examples:
                    param["example"] = examples[param["name"]]
    return doc


async def test_the_api_conforms_to_its_openapi_document_and_never_errs(api, wait_run, jobs_app, jp_serverapp,
                                                                       jp_http_port, jp_base_url, tmp_path):
    outputs = [{"path": "out/report.txt"}, {"path": "out/data/"}]
    spec = {"cmd": "mkdir -p out/data && echo report > out/report.txt && echo x > out/data/x.csv && echo done",
            "outputs": outputs, "instance_types": [FREE_TYPE]}
    code, run, _ = await api("runs", method="POST", body={"spec": spec})
    assert code == 201, run
    run = await wait_run(run["id"])
    assert run["status"] == "SUCCEEDED", run
    code, doc, _ = await api("openapi.json")
    assert code == 200
    schema = tmp_path / "openapi.json"
    schema.write_text(json.dumps(with_examples(doc, {"run_id": run["id"], "path": "out/report.txt"})))
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url.rstrip('/')}"
    report = tmp_path / "report"
    argv = [sys.executable, "-m", "schemathesis.cli", "run", str(schema), "--url", base,
            "-H", f"Authorization: token {jp_serverapp.identity_provider.token}",
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                        "response_schema_conformance",
            "--phases", "examples,coverage,fuzzing", "--max-examples", str(MAX_EXAMPLES), "--seed", SEED,
            "--workers", "1", "--generation-database", "none", "--request-timeout", "30", "--no-color",
            "--report", "junit", "--report-dir", str(report)]
    canceller = asyncio.ensure_future(cancel_queued(await jobs_app.service()))
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT, cwd=tmp_path,
                                                env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    try:
        out, _ = await proc.communicate()
    finally:
        canceller.cancel()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-20000:]
    assert "No issues found" in text or "passed" in text, text[-5000:]
