"""A notebook run started embedded, `jupyter jobs run nb.ipynb out.ipynb -p ...`, against
`papermill nb.ipynb out.ipynb -p ...` on the same notebook, measured in the same run (medians).

    python benchmarks/notebook_overhead.py [--repeat 5]

Goal: the job takes at most 1.2x papermill's time. The job's environment is built once first (not
timed: a later run finds it cached). Also prints where the job's time goes: the CLI until the run
exists (reading the notebook, checking parameters, detecting the environment, capture, submit), the
run until its job starts, the job (papermill in the job), and the CLI's end (outputs back).
Both sides run with bytecode caches written, as an installed package has them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from overhead_local import HERE_SCRIPT, phases, timed  # benchmarks/ is the script's folder, first on sys.path

GOAL = 1.2
PAPERMILL = Path(sys.executable).with_name("papermill")
CELLS = ["x = 1\nlabel = 'default'", "import json\nprint(json.dumps({'x': x, 'label': label}))", "y = x * 2\ny"]


def write_notebook(path: Path) -> None:
    cells = [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {"tags": ["parameters"]}
              if i == 0 else {}, "outputs": [], "source": source} for i, source in enumerate(CELLS)]
    nb = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                      "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb, indent=1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per side (median reported)")
    args = parser.parse_args()
    for script in (HERE_SCRIPT, PAPERMILL):
        if not script.exists():
            raise SystemExit(f"{script} not found: pip install -e . (with papermill) into this interpreter first")
    root = Path(tempfile.mkdtemp(prefix="jobs-nb-overhead-"))
    work = root / "work"
    work.mkdir()
    write_notebook(work / "nb.ipynb")
    env = dict(os.environ, JUPYTER_JOBS_DATA_DIR=str(root / "data"), JUPYTER_CONFIG_DIR=str(root / "config"),
               JUPYTER_CONFIG_PATH=str(root / "config"), JUPYTER_JOBS_URL="embedded",
               PYTHONPYCACHEPREFIX=str(root / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    jobs = [str(HERE_SCRIPT), "run", "nb.ipynb", "out-jobs.ipynb", "-p", "x", "3", "-p", "label", "bench"]
    papermill = [str(PAPERMILL), "nb.ipynb", "out-papermill.ipynb", "-p", "x", "3", "-p", "label", "bench",
                 "--no-progress-bar"]
    build = timed(jobs, env, work)  # builds (or finds) the job's environment; writes the bytecode caches
    timed(papermill, env, work)
    job_times, pm_times = [], []
    for _ in range(args.repeat):  # interleaved, so a busy moment of the machine hits both sides
        job_times.append(timed(jobs, env, work))
        pm_times.append(timed(papermill, env, work))
    job, pm = statistics.median(job_times), statistics.median(pm_times)
    print(f"python: {sys.executable}\nrepeat: {args.repeat} (medians; first run with the environment build: "
          f"{build:.2f} s, not counted)\n")
    print(f"jupyter jobs run   median {job:6.3f} s  (" + ", ".join(f"{t:.2f}" for t in job_times) + ")")
    print(f"papermill          median {pm:6.3f} s  (" + ", ".join(f"{t:.2f}" for t in pm_times) + ")")
    print(f"\nratio jobs / papermill: {job / pm:.2f}x (goal <= {GOAL:.1f}x); difference {job - pm:+.2f} s")
    print("\none more `jupyter jobs run`, from the run's events.jsonl (the job: papermill in the job's env):")
    for name, seconds in phases(env, work, jobs).items():
        print(f"  {name:44} {seconds:6.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
