"""The conformance suite runs every test on every executor (tests/conformance/engines.py)."""

from __future__ import annotations

import pytest
from engines import ENGINES
from helpers import close_services
from traitlets.config import Config

from jupyter_jobs.service.service import JobsService
from jupyter_jobs.settings import JobsSettings


@pytest.fixture(params=sorted(ENGINES))
def engine(request) -> str:
    return request.param


@pytest.fixture
def make_service(engine, jobs_data_dir, tmp_path):
    """JobsService instances on this test's data dir with `engine` as the only executor, and a tiny
    instance type `one` (1 vCPU, 0.5 GB) that any engine can serve."""
    types = tmp_path / "types.yaml"
    types.write_text("one: {cpus: 1, memory_gb: 0.5}\n")
    services = []

    def make(capacity: float | None = None) -> JobsService:
        config = Config(ENGINES[engine](capacity))
        settings = JobsSettings(data_dir=str(jobs_data_dir), executors=[engine], config=config,
                                instance_types_file=str(types))
        service = JobsService(settings)
        services.append(service)
        return service

    yield make
    close_services(services)
