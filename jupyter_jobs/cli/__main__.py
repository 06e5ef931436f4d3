"""`python -m jupyter_jobs.cli`."""

from . import entry

entry()
