"""Helpers of the Docker tests, in a module of their own: `from conftest import ...` resolves to
whichever conftest pytest imported first, which depends on the folders collected."""

from __future__ import annotations

import time

from jupyter_jobs.service.schemas import Origin, SubmitRequest
from jupyter_jobs.service.service import JobsService
from jupyter_jobs.spec.models import JobSpec

LABEL = "jupyter-jobs.run-id"


def submit(service: JobsService, cmd: str, **spec) -> str:
    request = SubmitRequest(spec=JobSpec(cmd=cmd, **spec), origin=Origin(user="tester"))
    return service.submit(request).id


def wait_status(service: JobsService, run_id: str, statuses, timeout: float = 60):
    statuses = {statuses} if isinstance(statuses, str) else set(statuses)
    deadline = time.monotonic() + timeout
    while True:
        run = service.get(run_id)
        if run.status in statuses:
            return run
        if run.finished or time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} is {run.status} ({run.error}), wanted {statuses}:\n"
                                 + service.logs(run_id, "system") + service.logs(run_id, "stderr"))
        time.sleep(0.05)


def wait_output(service: JobsService, run_id: str, text: str, stream: str = "stdout", timeout: float = 30):
    deadline = time.monotonic() + timeout
    while text not in service.logs(run_id, stream):
        assert time.monotonic() < deadline, f"{text!r} never appeared in {stream}: {service.logs(run_id, stream)}"
        time.sleep(0.05)


def containers_of(docker_client, run_id: str) -> list:
    return docker_client.containers.list(all=True, ignore_removed=True, filters={"label": f"{LABEL}={run_id}"})
