"""What the docker executor costs over `docker run` for the same trivial command in the same image.

    eval "$(bash scripts/docker-engine.sh start)"; bash scripts/build-test-image.sh
    python benchmarks/docker_overhead.py [--repeat 15] [--image jupyter-jobs-test-python:3.11]

Measured in one run, interleaved, after one warm-up of each:

* peer: `docker run --rm --network none IMAGE true` (the docker CLI: create, start, wait, remove),
* ours: a job whose cmd is `true` submitted to an in-process JobsService with the docker executor,
  from `submit()` until the run reads SUCCEEDED (container start, the runner under the image's
  python3, events and result in the run dir, the service noticing).

Prints the medians and their ratio; the goal is within 1.5x of `docker run`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

GOAL = 1.5


def docker_run(image: str) -> float:
    start = time.perf_counter()
    subprocess.run(["docker", "run", "--rm", "--network", "none", image, "true"], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def job(service, image: str) -> float:
    from jupyter_jobs.service.schemas import Origin, SubmitRequest
    from jupyter_jobs.spec.models import JobSpec

    request = SubmitRequest(spec=JobSpec(cmd="true", env={"docker": {"image": image}}), origin=Origin(user="bench"))
    start = time.perf_counter()
    run_id = service.submit(request).id
    while True:
        run = service.get(run_id)
        if run.finished:
            break
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    if run.status != "SUCCEEDED":
        raise SystemExit(f"the job {run_id} ended {run.status}: {run.error}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--image", default="jupyter-jobs-test-python:3.11")
    args = parser.parse_args()
    if not os.environ.get("DOCKER_HOST"):
        print("DOCKER_HOST is not set: eval \"$(bash scripts/docker-engine.sh start)\"", file=sys.stderr)
        return 2

    from jupyter_jobs.service.service import JobsService
    from jupyter_jobs.settings import JobsSettings

    with tempfile.TemporaryDirectory(prefix="jobs-bench-") as data:
        service = JobsService(JobsSettings(data_dir=data, executors=["docker"]))
        docker_run(args.image), job(service, args.image)  # warm: image layers, the SDK's connection
        peer, ours = [], []
        for _ in range(args.repeat):
            peer.append(docker_run(args.image))
            ours.append(job(service, args.image))
        service.engine.dispose()

    p, o = statistics.median(peer), statistics.median(ours)
    for label, values, median in (("docker run --rm IMAGE true", peer, p), ("jupyter-jobs docker job", ours, o)):
        print(f"{label:<28} median {median * 1000:7.0f} ms  "
              f"(min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f}, n={len(values)})")
    print(f"ratio {o / p:.2f}x (goal <= {GOAL}x): {'ok' if o / p <= GOAL else 'over the goal'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
