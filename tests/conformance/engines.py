"""The engines the conformance suite runs on: how to tell one is there, and its settings.

Each engine is a name and a function giving the `JobsSettings` config for a service on it (or
skipping: outside CI an engine that is not set up here skips with the reason, under CI=true that is a
failure). Another executor joins the suite by adding itself to ENGINES.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from helpers import require_in_ci, require_slurm

ROOT = Path(__file__).resolve().parents[2]
TEST_IMAGE = os.environ.get("JUPYTER_JOBS_TEST_IMAGE", "jupyter-jobs-test-python:3.11")


def local_config(capacity: float | None) -> dict:
    return {"JobsSettings": {"local_gpus": [], **({"local_cpus": capacity} if capacity else {})}}


def docker_config(capacity: float | None) -> dict:
    if not os.environ.get("DOCKER_HOST"):
        require_in_ci("DOCKER_HOST is not set (eval \"$(bash scripts/docker-engine.sh start)\")")
    try:
        import docker

        docker.from_env().ping()
    except Exception as exc:  # noqa: BLE001 - no package, or no engine: the same skip
        require_in_ci(f"no Docker Engine here: {exc}")
    subprocess.run(["bash", str(ROOT / "scripts" / "build-test-image.sh"), TEST_IMAGE], check=True)
    return {"DockerExecutor": {"default_image": TEST_IMAGE, **({"cpus": capacity} if capacity else {})}}


def ray_config(capacity: float | None) -> dict:
    address = os.environ.get("RAY_ADDRESS")
    if not address:
        require_in_ci("RAY_ADDRESS is not set (eval \"$(bash scripts/ray-head.sh start)\")")
    try:
        from ray.job_submission import JobSubmissionClient

        JobSubmissionClient(address)
    except Exception as exc:  # noqa: BLE001 - no package, or no head: the same skip
        require_in_ci(f"no Ray cluster at {address}: {exc}")
    return {"RayExecutor": {"address": address, **({"cpus": capacity} if capacity else {})}}


def slurm_config(capacity: float | None) -> dict:
    require_slurm()
    return {"SlurmExecutor": {"cpus": capacity} if capacity else {}}


#: executor name -> config maker (capacity: the CPUs the executor hands out, None = the engine's own)
ENGINES = {"local": local_config, "docker": docker_config, "ray": ray_config, "slurm": slurm_config}
