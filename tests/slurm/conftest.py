"""A real one-node Slurm cluster for the slurm executor's tests (scripts/slurm.sh start).

Outside CI these tests skip with a reason when SLURM_CONF is unset or the controller does not answer;
under CI=true that is a failure. The cluster runs on this machine, so the shared file system is this
one (identity path map). Every test's data dir is configured with the slurm executor first; a job a test
leaves behind is cancelled after it. (The front doors on Slurm - CLI, notebook runs, `%%job` cells - are in
tests/conformance/test_front_doors.py.)
"""

from __future__ import annotations

import json

import pytest
from helpers import cancel_slurm_jobs_of, require_slurm

from jupyter_jobs.service.service import JobsService
from jupyter_jobs.settings import JobsSettings


@pytest.fixture(scope="session")
def slurm_cluster() -> str:
    return require_slurm()


@pytest.fixture(autouse=True)
def slurm_first(slurm_cluster, jobs_data_dir, configure):
    """c.JobsSettings.executors = ["slurm"] for this test's CLI, kernels and services."""
    configure()
    yield
    cancel_slurm_jobs_of(jobs_data_dir)


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
def make_service(jobs_data_dir):
    """JobsService instances on this test's data dir with the slurm executor (options as traitlets config)."""
    from traitlets.config import Config

    def make(embedded: bool = True, **slurm_options) -> JobsService:
        config = Config({"SlurmExecutor": slurm_options})
        return JobsService(JobsSettings(data_dir=str(jobs_data_dir), executors=["slurm"], config=config),
                           embedded=embedded)

    return make
