"""What the slurm executor costs over Slurm's own client for the same trivial job on the same cluster
(the Slurm counterpart of engine_overhead.py, whose measuring it uses).

    eval "$(bash scripts/slurm.sh start)"
    python benchmarks/slurm_overhead.py [--repeat 10] [--python /usr/bin/python3]

Measured in one run, interleaved, after one warm-up of each, each to two points (medians):

* peer: `sbatch --parsable --wrap true`, then `squeue -t all -j ID` polled until the job is RUNNING (or
  past it) and until it is COMPLETED,
* ours: a job whose cmd is `true` submitted to an in-process JobsService with the slurm executor, from
  `submit()` until the run reads RUNNING (or past it) and SUCCEEDED (sbatch, the shipped runner on the
  node under `--python`, as a site sets `c.SlurmExecutor.python`; events and result in the run dir, the
  service noticing).

Prints the medians and their ratios; the goal is within 1.2x of Slurm's own figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

from engine_overhead import GOAL, job_true, timed


def sbatch_true() -> tuple[float, float]:
    def submit() -> str:
        return subprocess.run(["sbatch", "--parsable", "--output=/dev/null", "--wrap", "true"], check=True,
                              capture_output=True, text=True).stdout.strip()

    def status(job: str) -> str:
        state = subprocess.run(["squeue", "-h", "-t", "all", "-j", job, "-o", "%T"], capture_output=True,
                               text=True).stdout.strip()
        return "SUCCEEDED" if state == "COMPLETED" else state

    return timed(submit, status, {"RUNNING", "COMPLETING"}, {"SUCCEEDED", "FAILED", "CANCELLED"})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--python", default="/usr/bin/python3", help="the nodes' Python for the runner")
    args = parser.parse_args()
    if not os.environ.get("SLURM_CONF"):
        print('SLURM_CONF is not set: eval "$(bash scripts/slurm.sh start)"', file=sys.stderr)
        return 2
    from traitlets.config import Config

    from jupyter_jobs.service.service import JobsService
    from jupyter_jobs.settings import JobsSettings

    with tempfile.TemporaryDirectory(prefix="jobs-bench-") as data_dir:
        config = Config({"SlurmExecutor": {"python": args.python}})
        service = JobsService(JobsSettings(data_dir=data_dir, executors=["slurm"], config=config))
        sbatch_true(), job_true(service)  # warm-up: the runner zipapp, sinfo, the index
        peer, ours = [], []
        for _ in range(args.repeat):
            peer.append(sbatch_true())
            ours.append(job_true(service))
        service.close()
    for i, label in enumerate(("submit -> RUNNING", "submit -> SUCCEEDED")):
        p = statistics.median(x[i] for x in peer)
        o = statistics.median(x[i] for x in ours)
        print(f"{label:20} sbatch --wrap true {p:6.2f} s   jupyter-jobs {o:6.2f} s   "
              f"ratio {o / p:4.2f}x (goal <= {GOAL}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
