"""Shared fixtures: every test gets its own jobs data dir, so runs never leak between tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def jobs_data_dir(tmp_path_factory, monkeypatch):
    path = tmp_path_factory.mktemp("jobs-data")
    monkeypatch.setenv("JUPYTER_JOBS_DATA_DIR", str(path))
    # No user or system jupyter_jobs_config.* may change what the tests see.
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(path / "config"))
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(path / "config"))
    # Servers the tests start must not be found by clients looking for "the running Jupyter server".
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(path / "runtime"))
    monkeypatch.delenv("JUPYTER_JOBS_URL", raising=False)
    monkeypatch.delenv("JUPYTER_JOBS_TOKEN", raising=False)
    # CLI calls run in their own process, also from a terminal (tests/integration/test_cli_warm.py turns it on).
    monkeypatch.setenv("JUPYTER_JOBS_WARM", "0")
    return path

