"""The `jupyter jobs` argument parser: every command, flag and help line."""

from __future__ import annotations

import argparse
import functools

from ..runner import protocol


def _id(text: str) -> str:
    return text.strip()


def _add_id(parser: argparse.ArgumentParser) -> None:
    """The run a command is about: `get ID` or, as DataSphere's CLI spells it, `get --id ID`."""
    parser.add_argument("id", nargs="?", type=_id, metavar="ID", help="the run's id (a unique prefix will do)")
    parser.add_argument("--id", dest="id_option", type=_id, metavar="ID", help="the same, as an option")


def _take_id(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if "id_option" not in args:
        return
    if args.id and args.id_option and args.id != args.id_option:
        parser.error(f"two run ids given: {args.id} and --id {args.id_option}")
    args.id = args.id or args.id_option
    if not args.id:
        parser.error(f"{args.command}: the run's id is required (`jupyter jobs {args.command} ID`)")


@functools.cache
def build_parser() -> argparse.ArgumentParser:
    """Built once per process (parsing does not change it): the warm process builds it before it forks."""
    from ..notebook import parameters

    parser = argparse.ArgumentParser(prog="jupyter jobs", description="Run notebooks, cells and scripts as jobs: "
                                     "the DataSphere-compatible command line.")
    from .._version import __version__

    parser.add_argument("--version", action="version", version=__version__, help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("execute", help="run a job from a config.yaml and stream its output")
    p.add_argument("-c", "--config", required=True, help="the job's config.yaml")
    p.add_argument("--async", dest="is_async", action="store_true", help="submit and return at once")
    p.add_argument("-o", "--output", help="with --async: write {\"job_id\": ...} to this file")
    p.add_argument("--executor", help="executor to run on (default: the first configured)")

    # `run`: a notebook as a job, executed with papermill in the job (jupyter_jobs/notebook/build.py),
    # its parameter flags papermill's (notebook/parameters.py).
    p = sub.add_parser("run", help="run a notebook as a job with papermill; its parameters are checked first",
                       description="Run a notebook as a job, with papermill's parameter flags.")
    p.add_argument("notebook", metavar="NOTEBOOK", help="the notebook to run")
    p.add_argument("output_path", nargs="?", metavar="OUTPUT", help="where the executed notebook comes back "
                   "(as papermill's output path; default: NAME-<run id>.ipynb beside NOTEBOOK)")
    p.add_argument("-o", "--output", help="the same as OUTPUT")
    _add_notebook_job(p, "the run's name (default: the notebook's)")
    p.add_argument("--async", dest="is_async", action="store_true", help="submit and return at once")

    p = sub.add_parser("fork", help="run a job again with changes")
    _add_id(p)
    p.add_argument("--arg", action="append", metavar="NAME=VALUE", help="override an argument")
    p.add_argument("--var", action="append", metavar="NAME=PATH", help="another file for a variable")
    p.add_argument("--env-var", action="append", metavar="NAME=VALUE", help="set an environment variable")
    parameters.add_arguments(p)
    p.add_argument("--cloud-instance-type", "--instance", dest="instance_type", help="another instance type")
    p.add_argument("--name", help="the fork's name (default: the parent's)")
    p.add_argument("--desc", help="the fork's description (default: the parent's)")
    p.add_argument("--async", dest="is_async", action="store_true", help="submit and return at once")
    p.add_argument("-o", "--output-dir", metavar="DIR",
                   help="bring the outputs back here (default: NAME-<fork id>/ beside the parent's)")
    p.add_argument("--force", action="store_true", help="bring the outputs back to the parent's places, "
                   "overwriting its outputs")
    p.add_argument("--id-file", metavar="FILE", help="with --async: write {\"job_id\": ...} to this file")

    p = sub.add_parser("attach", help="follow a running job's output; outputs come back at the end")
    _add_id(p)

    p = sub.add_parser("list", help="run history, newest first")
    p.add_argument("--format", choices=("table", "json"), default="table", help="a table, or JSON")
    p.add_argument("--status", action="append", help="only runs with this status (repeatable)")
    p.add_argument("--limit", type=int, default=100, help="at most this many runs (default: 100)")

    p = sub.add_parser("get", help="one run's details")
    _add_id(p)
    p.add_argument("--format", choices=("table", "json"), default="table", help="a table, or JSON")

    p = sub.add_parser("logs", help="a run's logs")
    _add_id(p)
    p.add_argument("--stream", choices=("all", *protocol.STREAMS), default="all", help="only this stream")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing until the job ends")
    p.add_argument("--timestamps", "-t", action="store_true", help="prefix each line with its time")

    p = sub.add_parser("cancel", help="stop a job")
    _add_id(p)
    p.add_argument("--graceful", action="store_true",
                   help="send the job's graceful-shutdown signal and wait its timeout before killing")

    p = sub.add_parser("download-files", help="copy a run's outputs (and logs) here")
    _add_id(p)
    p.add_argument("--with-logs", action="store_true", help="also the logs, under logs/")
    p.add_argument("--output-dir", default=".", help="where to copy them (default: here)")

    p = sub.add_parser("set-data-ttl", help="how long a run's logs and outputs are kept")
    _add_id(p)
    p.add_argument("--days", required=True, help="a number of days, or inf")

    p = sub.add_parser("delete", help="delete a finished run and its data")
    _add_id(p)

    sub.add_parser("cleanup", help="delete data of runs past their TTL now")

    p = sub.add_parser("secrets", help="values jobs get as environment variables, never shown")
    secrets = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = secrets.add_parser("set", help="create or replace a secret; the value is read from stdin or a prompt")
    q.add_argument("name", help="the secret's name: jobs get it as $NAME")
    secrets.add_parser("list", help="secret names (never values)")
    q = secrets.add_parser("delete", help="delete a secret")
    q.add_argument("name", help="the secret's name")

    p = sub.add_parser("generate-requirements", help="requirements.txt of scripts, detected without running them")
    p.add_argument("files", nargs="+", metavar="FILE", help="the scripts")
    p.add_argument("-o", "--output", help="write here instead of stdout")

    p = sub.add_parser("envs", help="cached job environments")
    envs = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    envs.add_parser("list", help="cached environments, most recently used first")
    q = envs.add_parser("prune", help="evict least recently used environments")
    q.add_argument("--max-size", default="0", help="keep at most this much, e.g. 5GB (default: evict all unused)")

    p = sub.add_parser("instance-types", help="instance types and whether they run here")
    p.add_argument("--format", choices=("table", "json"), default="table", help="a table, or JSON")
    p.add_argument("--executor", help="only this executor's (default: the first configured)")

    _add_schedule(sub)
    return parser


def _add_notebook_job(p: argparse.ArgumentParser, name_help: str) -> None:
    """A notebook job's flags: `run`'s and `schedule create --notebook`'s (built by the same code)."""
    from ..notebook import parameters

    parameters.add_arguments(p)
    p.add_argument("-i", "--instance", "--instance-type", "--cloud-instance-type", dest="instance",
                   help="instance type")
    p.add_argument("--name", help=name_help)
    p.add_argument("--inputs", action="append", metavar="FILES",
                   help="files the notebook reads, sent with it (comma-separated, repeatable)")
    p.add_argument("--outputs", action="append", metavar="FILES",
                   help="files it writes, brought back (comma-separated, repeatable)")
    p.add_argument("--env-var", action="append", metavar="NAME=VALUE", help="an environment variable (repeatable)")
    p.add_argument("--timeout", type=float, metavar="S", help="stop the run after S seconds")
    p.add_argument("--executor", help="executor to run on (default: the first configured)")


def _add_schedule(sub) -> None:
    """`schedule create|list|get|pause|resume|delete|runs` (cli/schedules.py)."""
    from .. import schedule_timing

    p = sub.add_parser("schedule", help="run a config or a notebook on a cron schedule while a Jupyter server "
                       "with jupyter-jobs runs", description="Schedules: a saved job and a cron expression in "
                       "a time zone; a Jupyter server with jupyter-jobs fires them.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = actions.add_parser("create", help="save a job (-c config.yaml or --notebook NB) with a cron schedule",
                           description="Save a job with a cron schedule. Its files are captured and uploaded "
                           "now; every tick runs that saved job.")
    source = q.add_mutually_exclusive_group(required=True)
    source.add_argument("-c", "--config", help="the job's config.yaml")
    source.add_argument("--notebook", metavar="NOTEBOOK", help="a notebook to run with papermill")
    schedule_timing.add_arguments(q)
    _add_notebook_job(q, "the schedule's name (default: the job's name or the notebook's file name)")
    q = actions.add_parser("list", help="schedules with their next fire time and last status")
    q.add_argument("--format", choices=("table", "json"), default="table", help="a table, or JSON")
    for action, text in (("get", "one schedule: its times, skipped ticks and recent runs"),
                         ("pause", "stop firing until resumed"),
                         ("resume", "fire again from the next tick (ticks while paused are not run)"),
                         ("delete", "delete a schedule (the runs it fired stay)"),
                         ("runs", "the runs a schedule fired, newest first")):
        q = actions.add_parser(action, help=text)
        q.add_argument("id", type=_id, metavar="ID", help="the schedule's id (a unique prefix will do)")
        if action in ("get", "runs"):
            q.add_argument("--format", choices=("table", "json"), default="table", help="a table, or JSON")
