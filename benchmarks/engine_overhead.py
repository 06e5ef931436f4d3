"""What the ray executor costs over Ray's own Jobs API client for the same trivial job on the same head.

    eval "$(bash scripts/ray-head.sh start)"
    python benchmarks/engine_overhead.py [--repeat 7]

Measured in one run, interleaved, after one warm-up of each, each to two points (medians):

* peer: `JobSubmissionClient.submit_job(entrypoint="true")`, then `get_job_info` polled until the job
  is RUNNING (or past it) and until it is SUCCEEDED,
* ours: a job whose cmd is `true` submitted to an in-process JobsService with the ray executor, from
  `submit()` until the run reads RUNNING (or past it) and SUCCEEDED (the plan, the Ray job whose
  entrypoint is the shipped runner, its events and result in the run dir, the service noticing).

Prints the medians and their ratios; the goal is within 1.2x of Ray's own figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid

GOAL = 1.2
POLL = 0.02


def timed(submit, status, running: set[str], done: set[str]) -> tuple[float, float]:
    """Seconds from `submit()` until `status(handle)` is first in `running | done`, and until in `done`."""
    start = time.perf_counter()
    handle = submit()
    to_running = None
    while True:
        state = str(status(handle))
        if to_running is None and state in running | done:
            to_running = time.perf_counter() - start
        if state in done:
            if state not in {"SUCCEEDED"}:
                raise SystemExit(f"the job {handle} ended {state}")
            return to_running, time.perf_counter() - start
        time.sleep(POLL)


def ray_true(client) -> tuple[float, float]:
    return timed(lambda: client.submit_job(entrypoint="true", submission_id=f"bench-{uuid.uuid4().hex[:12]}"),
                 lambda sid: client.get_job_info(sid).status.value, {"RUNNING"}, {"SUCCEEDED", "FAILED", "STOPPED"})


def job_true(service) -> tuple[float, float]:
    from jupyter_jobs.service.schemas import Origin, SubmitRequest
    from jupyter_jobs.spec.models import JobSpec

    request = SubmitRequest(spec=JobSpec(cmd="true", instance_types=["VM.Standard2.1"]), origin=Origin(user="bench"))
    return timed(lambda: service.submit(request).id, lambda run_id: service.get(run_id).status,
                 {"RUNNING"}, {"SUCCEEDED", "FAILED", "CANCELLED", "LOST"})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    address = os.environ.get("RAY_ADDRESS")
    if not address:
        print('RAY_ADDRESS is not set: eval "$(bash scripts/ray-head.sh start)"', file=sys.stderr)
        return 2
    from ray.job_submission import JobSubmissionClient
    from traitlets.config import Config

    from jupyter_jobs.service.service import JobsService
    from jupyter_jobs.settings import JobsSettings

    client = JobSubmissionClient(address)
    with tempfile.TemporaryDirectory(prefix="jobs-bench-") as data_dir:
        service = JobsService(JobsSettings(data_dir=data_dir, executors=["ray"],
                                           config=Config({"RayExecutor": {"address": address}})))
        ray_true(client), job_true(service)  # warm-up: the head's worker pool, the zipapp, imports
        peer, ours = [], []
        for _ in range(args.repeat):
            peer.append(ray_true(client))
            ours.append(job_true(service))
        service.close()
    for i, label in enumerate(("submit -> RUNNING", "submit -> SUCCEEDED")):
        p = statistics.median(x[i] for x in peer)
        o = statistics.median(x[i] for x in ours)
        print(f"{label:20} Ray JobSubmissionClient {p:6.2f} s   jupyter-jobs {o:6.2f} s   "
              f"ratio {o / p:4.2f}x (goal <= {GOAL}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
