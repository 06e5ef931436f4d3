"""A real IPython kernel (tests/kernel_helpers.py) per test, with `%load_ext jupyter_jobs`, sharing one job
environment cache across the module's tests (each test still has its own data dir and run index)."""

from __future__ import annotations

from pathlib import Path

import pytest
from kernel_helpers import start_kernel

jupyter_client = pytest.importorskip("jupyter_client")


@pytest.fixture(scope="session")
def shared_envs(tmp_path_factory) -> Path:
    """Built job environments, shared by every kernel test (a warm cache after the first build)."""
    return tmp_path_factory.mktemp("kernel-envs")


@pytest.fixture
def shared_env_dir(jobs_data_dir, shared_envs):
    """This test's data dir uses the shared environment cache."""
    (jobs_data_dir / "envs").symlink_to(shared_envs, target_is_directory=True)
    return shared_envs


@pytest.fixture
def kernel(jobs_data_dir, shared_env_dir, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    k = start_kernel(jobs_data_dir, work)
    try:
        yield k
    finally:
        k.shutdown()


@pytest.fixture
def client(jobs_data_dir):
    from jupyter_jobs.client import EmbeddedClient

    return EmbeddedClient()
