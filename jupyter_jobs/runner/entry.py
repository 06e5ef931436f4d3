"""`python -m jupyter_jobs.runner [--supervised] [--relay] RUN_DIR`: start the runner on a run dir, or
(`--relay`, no disk shared with the service) on the staging folder it was shipped with.
`... --standby`: wait for the run on stdin (executors/standby.py)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from . import layout
from .relay import run_relayed
from .runner import Runner


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--standby"]:
        return _from_standby()
    supervised = argv[:1] == ["--supervised"]  # see Runner.supervised
    argv = argv[1:] if supervised else argv
    relay = argv[:1] == ["--relay"]  # see runner/relay.py
    argv = argv[1:] if relay else argv
    if len(argv) != 1:
        print("usage: python -m jupyter_jobs.runner [--supervised] [--relay] RUN_DIR | --standby", file=sys.stderr)
        return 2
    _take_secrets_file()
    if relay:
        return run_relayed(Path(argv[0]), supervised)
    return Runner(Path(argv[0]), supervised).run()


def _from_standby() -> int:
    """Started ahead of its run, its imports done: read the run (run dir and environment, one JSON
    document) from stdin, then become the runner as `LocalExecutor.start` would have started it. An
    empty stdin means the launcher ended without a run for it."""
    handover = sys.stdin.buffer.read()
    if not handover:
        return 0
    run = json.loads(handover)
    out = os.open(os.path.join(run["run_dir"], "runner.out"), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW,
                  0o666)
    null = os.open(os.devnull, os.O_RDONLY)
    for fd, target in ((null, 0), (out, 1), (out, 2)):
        os.dup2(fd, target)
    os.close(null)
    os.close(out)
    os.chdir(run["run_dir"])
    os.environ.clear()
    os.environ.update(run["env"])
    return main([run["run_dir"]])


def _take_secrets_file() -> None:
    """Secrets an executor could not pass in our environment (Ray shows a job's env to anyone who lists
    jobs) come in an owner-only file named by JUPYTER_JOBS_SECRETS_FILE: read it, then delete it."""
    path = os.environ.pop("JUPYTER_JOBS_SECRETS_FILE", None)
    if path:
        os.environ.update(layout.read_json(Path(path)) or {})
        os.unlink(path)
