"""What the ray or slurm executor costs over the engine's own client for the same trivial job on the same cluster.

    eval "$(bash scripts/ray-head.sh start)";  python benchmarks/engine_overhead.py --engine ray [--repeat 7]
    eval "$(bash scripts/slurm.sh start)";     python benchmarks/engine_overhead.py --engine slurm [--python python3]

Measured in one run, interleaved, after one warm-up of each, each to two points (medians):

* peer on Ray: `JobSubmissionClient.submit_job(entrypoint="true")`, then `get_job_info` polled until the
  job is RUNNING (or past it) and until it is SUCCEEDED;
* peer on Slurm: `sbatch --parsable --wrap true`, then `squeue -t all -j ID` polled the same way
  (COMPLETED is its SUCCEEDED);
* ours: a job whose cmd is `true` submitted to an in-process JobsService with the engine's executor,
  from `submit()` until the run reads RUNNING (or past it) and SUCCEEDED (the plan, the engine's job
  whose entrypoint is the shipped runner - on Slurm under `--python`, as a site sets
  `c.SlurmExecutor.python` -, its events and result in the run dir, the service noticing).

Prints the medians and their ratios; the goal is within 1.2x of the engine's own figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
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
            if state != "SUCCEEDED":
                raise SystemExit(f"the job {handle} ended {state}")
            return to_running, time.perf_counter() - start
        time.sleep(POLL)


def ray_peer(args) -> tuple[str, object, dict]:
    """Ray's Jobs API client: its label, its timed `true` job, and the ray executor's config."""
    from ray.job_submission import JobSubmissionClient

    address = os.environ["RAY_ADDRESS"]
    client = JobSubmissionClient(address)

    def ray_true() -> tuple[float, float]:
        return timed(lambda: client.submit_job(entrypoint="true", submission_id=f"bench-{uuid.uuid4().hex[:12]}"),
                     lambda sid: client.get_job_info(sid).status.value, {"RUNNING"},
                     {"SUCCEEDED", "FAILED", "STOPPED"})

    return "Ray JobSubmissionClient", ray_true, {"RayExecutor": {"address": address}}


def slurm_peer(args) -> tuple[str, object, dict]:
    """sbatch and squeue: their label, their timed `true` job, and the slurm executor's config."""
    def submit() -> str:
        return subprocess.run(["sbatch", "--parsable", "--output=/dev/null", "--wrap", "true"], check=True,
                              capture_output=True, text=True).stdout.strip()

    def status(job: str) -> str:
        state = subprocess.run(["squeue", "-h", "-t", "all", "-j", job, "-o", "%T"], capture_output=True,
                               text=True).stdout.strip()
        return "SUCCEEDED" if state == "COMPLETED" else state

    def sbatch_true() -> tuple[float, float]:
        return timed(submit, status, {"RUNNING", "COMPLETING"}, {"SUCCEEDED", "FAILED", "CANCELLED"})

    return "sbatch --wrap true", sbatch_true, {"SlurmExecutor": {"python": args.python}}


#: engine -> (the variable its start script exports, that script, the peer maker)
ENGINES = {"ray": ("RAY_ADDRESS", "scripts/ray-head.sh", ray_peer),
           "slurm": ("SLURM_CONF", "scripts/slurm.sh", slurm_peer)}


def job_true(service) -> tuple[float, float]:
    from jupyter_jobs.service.schemas import Origin, SubmitRequest
    from jupyter_jobs.spec.models import JobSpec

    request = SubmitRequest(spec=JobSpec(cmd="true", instance_types=["VM.Standard2.1"]), origin=Origin(user="bench"))
    return timed(lambda: service.submit(request).id, lambda run_id: service.get(run_id).status,
                 {"RUNNING"}, {"SUCCEEDED", "FAILED", "CANCELLED", "LOST"})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=sorted(ENGINES), default="ray")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--python", default="/usr/bin/python3", help="slurm: the nodes' Python for the runner")
    args = parser.parse_args()
    variable, script, make_peer = ENGINES[args.engine]
    if not os.environ.get(variable):
        print(f'{variable} is not set: eval "$(bash {script} start)"', file=sys.stderr)
        return 2
    from traitlets.config import Config

    from jupyter_jobs.service.service import JobsService
    from jupyter_jobs.settings import JobsSettings

    label, peer_true, config = make_peer(args)
    with tempfile.TemporaryDirectory(prefix="jobs-bench-") as data_dir:
        service = JobsService(JobsSettings(data_dir=data_dir, executors=[args.engine], config=Config(config)))
        peer_true(), job_true(service)  # warm-up: the engine's workers, the runner zipapp, imports
        peer, ours = [], []
        for _ in range(args.repeat):
            peer.append(peer_true())
            ours.append(job_true(service))
        service.close()
    for i, point in enumerate(("submit -> RUNNING", "submit -> SUCCEEDED")):
        p = statistics.median(x[i] for x in peer)
        o = statistics.median(x[i] for x in ours)
        print(f"{point:20} {label} {p:6.2f} s   jupyter-jobs {o:6.2f} s   ratio {o / p:4.2f}x (goal <= {GOAL}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
