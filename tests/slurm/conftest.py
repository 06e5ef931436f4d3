"""A real one-node Slurm cluster for the slurm executor's tests (scripts/slurm.sh start).

Outside CI these tests skip with a reason when SLURM_CONF is unset or the controller does not answer;
under CI=true that is a failure. The cluster runs on this machine, so the shared file system is this
one (identity path map). Every test's data dir is configured with the slurm executor first, so the CLI,
the magics and notebook runs use it unchanged; a job a test leaves behind is cancelled after it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from helpers import require_slurm

from jupyter_jobs.service.service import JobsService
from jupyter_jobs.settings import JobsSettings


@pytest.fixture(scope="session")
def slurm_cluster() -> str:
    return require_slurm()


@pytest.fixture(scope="session")
def shared_envs(tmp_path_factory) -> Path:
    """Job environments built by the runners on the node, shared by the module's tests (a warm cache)."""
    return tmp_path_factory.mktemp("slurm-envs")


@pytest.fixture(autouse=True)
def slurm_first(slurm_cluster, jobs_data_dir, configure):
    """c.JobsSettings.executors = ["slurm"] for this test's CLI, kernels and services."""
    configure()
    yield
    runs = {p.name for p in (jobs_data_dir / "runs").iterdir()} if (jobs_data_dir / "runs").is_dir() else set()
    listed = subprocess.run(["squeue", "-h", "--me", "-o", "%i|%j"], capture_output=True, text=True).stdout
    left = [job for job, name in (line.split("|") for line in listed.split()) if name in runs]
    if left:
        subprocess.run(["scancel", *left], capture_output=True)


@pytest.fixture
def configure(jobs_data_dir):
    """Write this test's jupyter_jobs_config.json: the slurm executor first, `c.SlurmExecutor` options."""
    def write(slurm_options: dict | None = None, **settings) -> None:
        folder = jobs_data_dir / "config"
        folder.mkdir(exist_ok=True)
        config = {"JobsSettings": {"executors": ["slurm"], **settings}, "SlurmExecutor": slurm_options or {}}
        (folder / "jupyter_jobs_config.json").write_text(json.dumps(config))

    return write


@pytest.fixture
def with_shared_envs(jobs_data_dir, shared_envs):
    (jobs_data_dir / "envs").symlink_to(shared_envs, target_is_directory=True)


@pytest.fixture
def make_service(jobs_data_dir):
    """JobsService instances on this test's data dir with the slurm executor (options as traitlets config)."""
    from traitlets.config import Config

    def make(embedded: bool = True, **slurm_options) -> JobsService:
        config = Config({"SlurmExecutor": slurm_options})
        return JobsService(JobsSettings(data_dir=str(jobs_data_dir), executors=["slurm"], config=config),
                           embedded=embedded)

    return make
