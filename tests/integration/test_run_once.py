"""A run never starts twice: three terminals submitting `--async` jobs to one data dir at once.

Each CLI submits, dispatches what fits and exits; finishing runners kick the queue; readers settle rows
with snapshots that may be stale. Every job appends its own run id to one ledger (O_APPEND), so a run
started twice shows up twice, and a lost one not at all.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter

import pytest

from jupyter_jobs.service.service import JobsService
from jupyter_jobs.settings import JobsSettings

TERMINALS = 3
SUBMITS = 300

#: One terminal: SUBMITS `jupyter jobs execute --async` in a row, each printing the new run's id.
TERMINAL = """
import subprocess, sys
for _ in range(int(sys.argv[2])):
    done = subprocess.run([sys.executable, "-m", "jupyter_jobs.cli", "execute", "--async", "-c", sys.argv[1]],
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(done.stderr)
    print(done.stdout.split()[-1], flush=True)
"""


@pytest.mark.slow
@pytest.mark.timeout(3000)
def test_concurrent_async_submits_run_each_job_exactly_once(jobs_data_dir, tmp_path):
    ledger = tmp_path / "ledger.txt"
    config = tmp_path / "config.yaml"
    config.write_text(f'cmd: echo "$JOB_ID" >> {ledger}\n')
    env = {**os.environ, "JUPYTER_JOBS_URL": "embedded", "JUPYTER_JOBS_DATA_DIR": str(jobs_data_dir)}
    started = time.monotonic()
    terminals = [subprocess.Popen([sys.executable, "-c", TERMINAL, str(config), str(SUBMITS)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
                 for _ in range(TERMINALS)]
    submitted: list[str] = []
    for terminal in terminals:
        out, err = terminal.communicate()
        assert terminal.returncode == 0, err[-3000:]
        submitted += out.split()
    assert len(submitted) == len(set(submitted)) == TERMINALS * SUBMITS

    service = JobsService(JobsSettings(data_dir=str(jobs_data_dir)))
    deadline = time.monotonic() + 1200
    while True:
        runs = {run.id: run for run in service.list(limit=2 * TERMINALS * SUBMITS)}
        if all(runs[i].finished for i in submitted):
            break
        assert time.monotonic() < deadline, Counter(runs[i].status for i in submitted)
        time.sleep(0.5)
    print(f"{TERMINALS} x {SUBMITS} async submits settled in {time.monotonic() - started:.0f} s")

    assert Counter(runs[i].status for i in submitted) == {"SUCCEEDED": TERMINALS * SUBMITS}
    executed = Counter(ledger.read_text().split())
    assert set(executed) == set(submitted)  # 0 lost
    assert [i for i, n in executed.items() if n > 1] == []  # 0 executed twice
    assert len(runs) == TERMINALS * SUBMITS  # 0 doubled rows
