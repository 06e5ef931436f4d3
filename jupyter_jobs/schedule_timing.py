"""A schedule's timing (`service.schemas.ScheduleTiming`) from a front door's flags or arguments.

The CLI (`schedule create`), the magics (`%job schedule`, `%%job --cron`) and the Python API
(`Job.schedule`) take the same four settings; a wrong one is one line naming the flag (or argument) as
the user typed it, before anything is read or uploaded.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from .errors import JobsError

if TYPE_CHECKING:  # imported when a timing is made: the CLI's parser adds these flags for every command
    from .service.schemas import ScheduleTiming

#: ScheduleTiming's fields as the command line and the magics spell them.
FLAGS = {"cron": "--cron", "timezone": "--tz", "missed": "--missed", "overlap": "--overlap", "name": "--name"}


def add_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """`--cron`, `--tz`, `--missed`, `--overlap` (each with its help line). Unset, they are None and the
    timing takes ScheduleTiming's defaults, so a front door can tell a flag given from one left out."""
    parser.add_argument("--cron", required=required, metavar="EXPR",
                        help="when it runs: a 5-field cron expression (minute hour day-of-month month "
                             "day-of-week), e.g. \"0 3 * * *\" for 03:00 every day")
    parser.add_argument("--tz", "--timezone", dest="timezone", metavar="ZONE",
                        help="the IANA time zone the cron expression is read in, e.g. Europe/Moscow "
                             "(default: UTC)")
    parser.add_argument("--missed", choices=("skip", "run-once"),
                        help="ticks missed while no Jupyter server ran: skip them (default), or run once "
                             "for them when a server starts")
    parser.add_argument("--overlap", choices=("skip", "queue"),
                        help="a tick while the previous run is still going: skip it (default), or queue "
                             "another run")


def from_args(args: argparse.Namespace, name: str | None = None) -> ScheduleTiming:
    """The timing of parsed flags (`add_arguments`); `name` is the schedule's (default: the job's)."""
    return make_timing(FLAGS, cron=args.cron, timezone=args.timezone, missed=args.missed, overlap=args.overlap,
                       name=name)


def make_timing(names: dict[str, str], **values) -> ScheduleTiming:
    """A ScheduleTiming; a refused value is one JobsError naming it as `names` spells the field."""
    from pydantic import ValidationError

    from .service.schemas import ScheduleTiming, timing_problem

    try:
        return ScheduleTiming(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        field, message = timing_problem(exc)
        raise JobsError(f"{names.get(field, field)}: {message}") from None
