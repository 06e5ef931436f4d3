"""A real Ray head for the Ray executor's tests (eval "$(bash scripts/ray-head.sh start)").

Outside CI these tests skip with a reason when RAY_ADDRESS is unset or the head does not answer;
under CI=true that is a failure. (The front doors on Ray - CLI, notebook runs, `%%job` cells - are
in tests/conformance/test_front_doors.py.)
"""

from __future__ import annotations

import json
import os
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


@pytest.fixture
def on_ray(ray_address) -> None:
    """The ray executor as the default one for this test's CLI runs (its own jupyter_jobs_config.json)."""
    folder = Path(os.environ["JUPYTER_CONFIG_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "jupyter_jobs_config.json").write_text(json.dumps({
        "JobsSettings": {"executors": ["ray"]}, "RayExecutor": {"address": ray_address}}))
