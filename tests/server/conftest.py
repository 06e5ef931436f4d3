"""A real Jupyter server (pytest-jupyter) with the jupyter_jobs extension and the real JobsService."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

# pytest-jupyter's fixtures and async-test hooks, for this folder only (a non-root conftest may not set
# `pytest_plugins`).
from pytest_jupyter.jupyter_server import *  # noqa: E402,F403

from jupyter_jobs.runner.protocol import FINAL_STATUSES


@pytest.fixture
def jobs_limits(request):
    """c.JobsSettings for the server (parametrize indirectly to change)."""
    return getattr(request, "param", {})


@pytest.fixture
def jobs_extra_config(request):
    """More server config, e.g. an authorizer (parametrize indirectly)."""
    return getattr(request, "param", {})


@pytest.fixture
def jp_server_config(jobs_data_dir, jobs_limits, jobs_extra_config):
    config = {
        "ServerApp": {"jpserver_extensions": {"jupyter_jobs": True}},
        "JobsSettings": {"data_dir": str(jobs_data_dir), **jobs_limits},
    }
    for section, values in jobs_extra_config.items():
        config.setdefault(section, {}).update(values)
    return config


@pytest.fixture
def jobs_app(jp_serverapp):
    return jp_serverapp.extension_manager.extension_points["jupyter_jobs"].app


@pytest.fixture(autouse=True)
def _extensions_started(jp_serverapp, jp_asyncio_loop):
    """A real server starts its extensions once its loop runs (ServerApp._post_start): the jobs queue's
    dispatch loop starts there. pytest-jupyter does not, so do what the server does."""
    jp_asyncio_loop.run_until_complete(jp_serverapp.extension_manager.start_all_extensions())


@pytest.fixture
def api(jp_fetch):
    """`await api("runs", method="POST", body={...})` -> (status, parsed JSON or raw bytes); never raises."""
    from tornado.httpclient import HTTPClientError

    async def call(*parts, method="GET", body=None, raw=None, headers=None, params=None, **kwargs):
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if data is None and method in ("POST", "PUT", "PATCH"):
            data = b""
        try:
            response = await jp_fetch("jobs", *parts, method=method, body=data, headers=headers or {},
                                      params=params, allow_nonstandard_methods=True, **kwargs)
        except HTTPClientError as err:
            response = err.response
            if response is None:
                raise
        text = response.body or b""
        ctype = response.headers.get("Content-Type", "")
        parsed = json.loads(text) if text and ctype.startswith("application/json") else text
        return response.code, parsed, response

    return call


@pytest.fixture
def wait_run(api):
    async def wait(run_id: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code, run, _ = await api("runs", run_id)
            assert code == 200, run
            if run["status"] in FINAL_STATUSES:
                return run
            await asyncio.sleep(0.1)
        raise AssertionError(f"run {run_id} did not finish: {run['status']}")

    return wait
