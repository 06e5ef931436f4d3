"""`jupyter jobs ...`: the DataSphere-compatible command line (execute, fork, attach, list, ...).

`commands.main` runs a command line; `entry` is the console script, which first offers it to the warm
process (`warm.py`).
"""

from __future__ import annotations

import os
import sys


def entry() -> None:
    """The console script. In a terminal, the warm process runs the command (`warm.py`); else `main`
    runs here, then the process exits at once.

    It imports only what the warm hand-over needs, so a warm call starts quickly. Tearing down the
    interpreter (SQLAlchemy, pydantic and their module graphs) costs about 0.1 s after the job has already
    ended; nothing of ours needs it (the database commits as it goes, and a SQLite WAL left open is
    checkpointed by the next process), so flush what was printed and leave.
    """
    from . import warm

    handed = warm.wanted()
    code = warm.call(sys.argv) if handed else None
    if code is None:
        from .commands import main

        code = main()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (BrokenPipeError, ValueError):
                pass
        if handed:
            warm.start()
    os._exit(code)
