"""The server at its boundary: bad input is a 4xx naming the field (never a 500), a job's secrets never
reach an answer, and every route that starts a job asks the authorizer for `execute`."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from jupyter_server.auth import Authorizer

from jupyter_jobs.server.routes import ROUTES
from jupyter_jobs.service.schemas import Run

SECRET = "api-s3cr3t-\u00e9-value"
SHA = "ab" * 32


async def test_a_bundle_naming_a_host_file_is_422_naming_the_field(api):
    spec = {"cmd": "cat data.txt", "inputs": [{"path": "data.txt"}]}
    for files, field in (([{"path": "", "sha256": "../../../../etc/passwd"}], "bundle.inputs.0.files.0.sha256"),
                         ([{"path": "../../x", "sha256": SHA}], "bundle.inputs.0.files.0.path")):
        body = {"spec": spec, "bundle": {"inputs": [{"ref": "data.txt", "is_dir": True, "files": files}]}}
        code, err, _ = await api("runs", method="POST", body=body)
        assert code == 422 and err["field"] == field, err
    body = {"spec": {"cmd": "ls", "output_datasets": [{"name": "../../escape", "var": "OUT"}]}}
    code, err, _ = await api("runs", method="POST", body=body)
    assert code == 422 and err["field"] == "spec.output_datasets.0.name", err


async def test_an_empty_idempotency_key_is_422_every_time(api):
    """It used to be stored as a key: the second submit with "" failed on the unique index (500)."""
    for _ in range(2):
        code, err, _ = await api("runs", method="POST", body={"spec": {"cmd": "true"}, "idempotency_key": ""})
        assert code == 422 and err["field"] == "idempotency_key", err
    code, run, _ = await api("runs", method="POST", body={"spec": {"cmd": "true"}})
    assert code == 201, run
    code, err, _ = await api("notebooks", "run", method="POST", body={"path": "x.ipynb", "idempotency_key": ""})
    assert code == 422 and err["field"] == "idempotency_key", err


@pytest.mark.parametrize("value", ["99999999999999999999999", str(2**63), "-1", "1e3", "9" * 5000])
async def test_huge_or_bad_offsets_are_422(api, value):
    code, run, _ = await api("runs", method="POST", body={"spec": {"cmd": "true"}})
    assert code == 201
    for parts in (("runs",), ("runs", run["id"], "logs")):
        code, err, _ = await api(*parts, params={"offset": value})
        assert code == 422 and err["field"] == "offset", (parts, err)


class NoExecute(Authorizer):
    """Everything but `execute`: a route that starts a job must still be refused."""

    def is_authorized(self, handler, user, action, resource):
        return action != "execute"


def starts_a_job(op) -> bool:
    """An operation that answers 201 with a Run creates a run."""
    return op.response is Run and op.status == 201


@pytest.mark.parametrize("jobs_extra_config", [{"ServerApp": {"authorizer_class": NoExecute}}], indirect=True)
async def test_every_route_that_starts_a_job_asks_for_execute(api, jobs_extra_config, jp_root_dir):
    (jp_root_dir / "nb.ipynb").write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4,
                                                      "nbformat_minor": 5}))
    bodies = {"/jobs/runs": {"spec": {"cmd": "true"}}, "/jobs/notebooks/run": {"path": "nb.ipynb"}}
    starting = [(route, method) for route in ROUTES for method, op in route.ops.items() if starts_a_job(op)]
    assert {route.path for route, _ in starting} == {"/jobs/runs", "/jobs/runs/{run_id}/fork",
                                                     "/jobs/notebooks/run"}
    for route, method in starting:
        parts = route.path.format(run_id="0000").removeprefix("/jobs/").split("/")
        code, data, _ = await api(*parts, method=method.upper(), body=bodies.get(route.path, {}))
        assert code == 403, (route.path, code, data)


async def test_a_secret_too_short_to_mask_is_refused_by_the_api(api):
    code, err, _ = await api("secrets", "PIN", method="PUT", body={"value": "123"})
    assert 400 <= code < 500 and "too short" in err["message"], err
    code, names, _ = await api("secrets")
    assert names["names"] == []


async def test_a_secret_never_reaches_an_api_answer(api, wait_run):
    code, _, _ = await api("secrets", "API_TOKEN", method="PUT", body={"value": SECRET})
    assert code == 204
    cmd = ('echo "token=$API_TOKEN"; echo "err $API_TOKEN" >&2; '
           'printf \'{"progress": 40, "message": "at %s"}\\n\' "$API_TOKEN" >> "$JOB_PROGRESS_FILENAME"; '
           'sleep 0.3; exit 3')
    code, run, _ = await api("runs", method="POST", body={"spec": {"cmd": cmd}})
    assert code == 201
    run = await wait_run(run["id"])
    assert run["status"] == "FAILED" and run["progress_message"] == "at ****", run
    answers = [json.dumps(run)]
    for parts, params in ((("runs",), None), (("runs", run["id"]), None), (("runs", run["id"], "logs"), None),
                          (("runs", run["id"], "logs"), {"stream": "stdout", "format": "text"}),
                          (("runs", run["id"], "logs"), {"stream": "stderr", "format": "text"}),
                          (("secrets",), None)):
        code, data, response = await api(*parts, params=params)
        assert code == 200, (parts, data)
        answers.append(response.body.decode())
    text = "\n".join(answers)
    assert "token=****" in text and "err ****" in text
    for form in (SECRET, json.dumps(SECRET).strip('"'), urllib.parse.quote(SECRET)):
        assert form not in text
