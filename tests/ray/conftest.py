"""A real Ray head for the Ray executor's tests (eval "$(bash scripts/ray-head.sh start)").

Outside CI these tests skip with a reason when RAY_ADDRESS is unset or the head does not answer;
under CI=true that is a failure. Every test's CLI, kernel and service use the ray executor through
the test's own jupyter_jobs_config.json (JUPYTER_CONFIG_DIR is per test).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from helpers import require_in_ci


@pytest.fixture(scope="session")
def ray_address() -> str:
    address = os.environ.get("RAY_ADDRESS")
    if not address:
        require_in_ci("RAY_ADDRESS is not set (eval \"$(bash scripts/ray-head.sh start)\")")
    try:
        from ray.job_submission import JobSubmissionClient

        JobSubmissionClient(address)
    except ImportError:
        require_in_ci("ray is not installed (pip install -e '.[ray]')")
    except Exception as exc:  # noqa: BLE001 - the head does not answer
        require_in_ci(f"no Ray cluster answers at {address}: {exc}")
    return address


@pytest.fixture
def ray_client(ray_address):
    from ray.job_submission import JobSubmissionClient

    return JobSubmissionClient(ray_address)


@pytest.fixture(scope="session")
def shared_ray_envs(tmp_path_factory) -> Path:
    """Built job environments, shared by the Ray tests (cell and notebook jobs build one once)."""
    return tmp_path_factory.mktemp("ray-envs")


@pytest.fixture
def on_ray(ray_address, jobs_data_dir, shared_ray_envs) -> Path:
    """The ray executor as the default one for this test's CLI runs, kernels and services."""
    folder = Path(os.environ["JUPYTER_CONFIG_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "jupyter_jobs_config.json").write_text(json.dumps({
        "JobsSettings": {"executors": ["ray"]}, "RayExecutor": {"address": ray_address}}))
    (jobs_data_dir / "envs").symlink_to(shared_ray_envs, target_is_directory=True)
    return jobs_data_dir


@pytest.fixture
def free_tcp_port() -> int:
    """A port nothing listens on (bound and released), for an address that does not answer."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
