"""A real Docker Engine for the docker executor's tests (scripts/docker-engine.sh start).

Outside CI these tests skip with a reason when DOCKER_HOST is unset or the engine does not answer;
under CI=true that is a failure. The test image is built locally (scripts/build-test-image.sh) when
missing: no registry is involved.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from docker_runs import LABEL
from helpers import require_in_ci

from jupyter_jobs.service.service import JobsService
from jupyter_jobs.settings import JobsSettings

ROOT = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("JUPYTER_JOBS_TEST_IMAGE", "jupyter-jobs-test-python:3.11")


@pytest.fixture(scope="session")
def docker_client():
    if not os.environ.get("DOCKER_HOST"):
        require_in_ci("DOCKER_HOST is not set (eval \"$(bash scripts/docker-engine.sh start)\")")
    try:
        import docker
    except ImportError:
        require_in_ci("the `docker` package is not installed (pip install -e '.[test]')")
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        require_in_ci(f"the Docker Engine at {os.environ['DOCKER_HOST']} does not answer: {exc}")
    return client


@pytest.fixture(scope="session")
def test_image(docker_client) -> str:
    subprocess.run(["bash", str(ROOT / "scripts" / "build-test-image.sh"), IMAGE], check=True)
    return IMAGE


@pytest.fixture(autouse=True)
def _own_env_volumes(request, jobs_data_dir):
    """Env volumes are per data dir: remove this test's when it ends."""
    yield
    if "docker_client" not in request.fixturenames:
        return
    client = request.getfixturevalue("docker_client")
    for volume in client.volumes.list(filters={"label": f"jupyter-jobs.data-dir={jobs_data_dir.resolve()}"}):
        try:
            volume.remove(force=True)
        except Exception:  # noqa: BLE001 - still in use by a container being removed
            pass


@pytest.fixture
def make_service(jobs_data_dir, test_image, docker_client):
    """JobsService instances on this test's data dir with the docker executor first."""
    from traitlets.config import Config

    def make(settings: dict | None = None, **docker_options) -> JobsService:
        config = Config({"DockerExecutor": {"default_image": test_image, **docker_options}})
        settings = JobsSettings(data_dir=str(jobs_data_dir), executors=["docker"], config=config, **(settings or {}))
        return JobsService(settings)

    yield make
    # Nothing of a test may outlive it: its containers are gone (removed when their runs ended).
    for container in docker_client.containers.list(all=True, ignore_removed=True, filters={"label": LABEL}):
        if str(jobs_data_dir) in container.labels.get("jupyter-jobs.run-dir", ""):
            try:
                container.remove(force=True)
            except Exception:  # noqa: BLE001 - already being removed (auto_remove)
                pass
