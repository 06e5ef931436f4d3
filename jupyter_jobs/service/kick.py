"""`python -m jupyter_jobs.service.kick SETTINGS_JSON [--after RUN_ID]`: start what waits in the queue.

The embedded mode has no long-lived server to work the queue off. A finishing local runner runs
this when queued runs exist; a run in a container cannot reach the host, so its launch starts this
with `--after RUN_ID`, which waits on the host until that run has ended.
"""

from __future__ import annotations

import json
import sys
import time

from ..errors import NotFound

#: Longest pause between two looks at the awaited run: a queued run starts at most this late.
MAX_POLL_S = 5.0


def wait_until_finished(service, run_id: str) -> bool:
    """True once the run has ended (its executor is asked, so a vanished container counts); False if it
    was deleted meanwhile."""
    delay = 0.5
    while True:
        try:
            if service.get(run_id).finished:
                return True
        except NotFound:
            return False
        time.sleep(delay)
        delay = min(delay * 1.5, MAX_POLL_S)


def main(argv: list[str]) -> int:
    from traitlets.config import Config

    from ..settings import JobsSettings
    from .service import JobsService

    values = json.loads(argv[0])
    service = JobsService(JobsSettings(config=Config(values.pop("config", {})), **values))
    if argv[1:2] == ["--after"]:
        if not wait_until_finished(service, argv[2]) or not service.scheduler.has_waiting():
            return 0
    service.dispatch()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
