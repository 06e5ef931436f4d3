"""`python -m jupyter_jobs.runner [--supervised] [--relay] RUN_DIR`: start the runner on a run dir, or
(`--relay`, no disk shared with the service) on the staging folder it was shipped with."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from . import layout
from .relay import run_relayed
from .runner import Runner


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    supervised = argv[:1] == ["--supervised"]  # see Runner.supervised
    argv = argv[1:] if supervised else argv
    relay = argv[:1] == ["--relay"]  # see runner/relay.py
    argv = argv[1:] if relay else argv
    if len(argv) != 1:
        print("usage: python -m jupyter_jobs.runner [--supervised] [--relay] RUN_DIR", file=sys.stderr)
        return 2
    _take_secrets_file()
    if relay:
        return run_relayed(Path(argv[0]), supervised)
    return Runner(Path(argv[0]), supervised).run()


def _take_secrets_file() -> None:
    """Secrets an executor could not pass in our environment (Ray shows a job's env to anyone who lists
    jobs) come in an owner-only file named by JUPYTER_JOBS_SECRETS_FILE: read it, then delete it."""
    path = os.environ.pop("JUPYTER_JOBS_SECRETS_FILE", None)
    if path:
        os.environ.update(layout.read_json(Path(path)) or {})
        os.unlink(path)
