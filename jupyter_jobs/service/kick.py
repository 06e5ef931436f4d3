"""`python -m jupyter_jobs.service.kick SETTINGS_JSON`: start what waits in the queue.

A finishing runner runs this when queued runs exist, so the embedded mode (no long-lived server)
still works its queue off.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    from ..settings import JobsSettings
    from .service import JobsService

    JobsService(JobsSettings(**json.loads(argv[0]))).scheduler.dispatch()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
