"""IPython magics: `%%job` runs a cell as a job, `%job ...` manages jobs and runs notebooks.

    %load_ext jupyter_jobs

    %%job -i g1.1 --out model
    model = train(data)          # `data` is sent from the kernel, `model` comes back

The cell runs in an environment detected from its imports and pinned to this kernel's versions.
Its output (text, HTML, plots) appears here while it runs; a failure fails the cell with the job's
own traceback; interrupting the cell cancels the job. `%%job --cron "0 3 * * *"` saves the cell (and the
variables it reads, as they are now) on a schedule instead; `%job schedule NB --cron ...` a notebook.
"""

from __future__ import annotations

import html
import os
import shlex
import sys
from pathlib import Path

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import MagicArgumentParser, argument, magic_arguments

from . import schedule_timing
from .errors import JobsError
from .runner.protocol import STREAMS, Status


def _split(values) -> list[str]:
    """`--in a,b --in c` and `--inputs f1,f2` -> ["a", "b", "c"]."""
    out: list[str] = []
    for value in values or []:
        items = value if isinstance(value, list) else [value]
        for item in items:
            out += [part.strip() for part in item.split(",") if part.strip()]
    return out


def _argv(line: str) -> list[str]:
    """A magic's line split as a shell splits it (`--cron "0 3 * * *"` is one value)."""
    try:
        return shlex.split(line)
    except ValueError as exc:  # an unclosed quote
        raise UsageError(f"{line.strip()}: {exc}") from None


def _pairs(values, flag: str) -> dict[str, str]:
    out = {}
    for item in _split(values):
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"{flag} {item!r}: expected NAME=VALUE")
        out[name] = value
    return out


@magic_arguments()
@argument("-i", "--instance", help="instance type, e.g. c1.4 or g1.1 (default: the operator's default)")
@argument("--name", help="job name")
@argument("--desc", help="job description")
@argument("--in", dest="in_vars", action="append", metavar="VARS",
          help="kernel variables to send (comma-separated); variables the cell reads are sent when small")
@argument("--out", dest="out_vars", action="append", metavar="VARS",
          help="variables to bring back after success (comma-separated)")
@argument("--inputs", action="append", metavar="FILES", help="files or folders to send (comma-separated)")
@argument("--outputs", action="append", metavar="FILES", help="files the job writes, brought back here")
@argument("--docker", metavar="IMAGE", help="run in this Docker image (a docker executor)")
@argument("--env", action="append", nargs="+", metavar="K=V", help="environment variables of the job")
@argument("--requirements", metavar="FILE", help="requirements file instead of the detected imports")
@argument("--pip", action="append", nargs="+", metavar="PKG", help="extra requirements (pip syntax)")
@argument("--executor", help="executor to run on (default: the first configured)")
@argument("--timeout", type=float, metavar="S", help="stop the job after S seconds")
@argument("--no-wait", action="store_true", help="return at once with a handle")
def _cell_arguments(line, cell):
    """%%job [options]: run this cell as a job; with --cron, schedule it instead."""


# `%%job --cron EXPR [--tz ZONE] ...`: schedule the cell (with its variables as they are now) instead.
schedule_timing.add_arguments(_cell_arguments.parser, required=False)


def _job_parser() -> MagicArgumentParser:
    parser = MagicArgumentParser(prog="%job", description="Manage jobs; run notebooks as jobs.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("list", help="recent jobs")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--status", action="append")
    for name, text in (("status", "a job's details"), ("attach", "replay and follow a job's output here"),
                       ("cancel", "stop a job")):
        p = sub.add_parser(name, help=text)
        p.add_argument("id")
    p = sub.add_parser("logs", help="a job's stdout and stderr")
    p.add_argument("id")
    p.add_argument("--stream", choices=("all", *STREAMS), default="all")
    p = sub.add_parser("result", help="bring a finished job's --out variables (and --outputs files) back")
    p.add_argument("id")
    p.add_argument("names", nargs="*", help="only these variables")
    p = sub.add_parser("run", help="run a notebook as a job (papermill)")
    _notebook_arguments(p)
    p.add_argument("-o", "--output")
    p.add_argument("--no-wait", action="store_true")
    p = sub.add_parser("schedule", help="run a notebook as a job on a cron schedule")
    _notebook_arguments(p)
    schedule_timing.add_arguments(p)
    p = sub.add_parser("schedules", help="the schedules, with their next fire time and last status; "
                       "`%job schedules ID`: one, with its runs; `%job schedules pause|resume|delete ID`")
    p.add_argument("words", nargs="*", metavar="[pause|resume|delete] ID")
    return parser


def _notebook_arguments(p) -> None:
    """A notebook job's options: `%job run`'s and `%job schedule`'s."""
    from .notebook import parameters

    p.add_argument("notebook")
    parameters.add_arguments(p)
    p.add_argument("-i", "--instance")
    p.add_argument("--name")
    p.add_argument("--inputs", action="append")
    p.add_argument("--outputs", action="append")
    p.add_argument("--env", action="append", nargs="+")
    p.add_argument("--executor")
    p.add_argument("--timeout", type=float)


_SCHEDULE_ACTIONS = ("pause", "resume", "delete")


class _Html:
    def __init__(self, html_text: str, text: str):
        self._html, self._text = html_text, text

    def _repr_html_(self) -> str:
        return self._html

    def __repr__(self) -> str:
        return self._text


@magics_class
class JobMagics(Magics):
    def __init__(self, shell):
        super().__init__(shell)
        self._client = None

    @property
    def client(self):
        if self._client is None:
            from .connect import connect

            self._client = connect()
        return self._client

    @line_cell_magic
    def job(self, line: str, cell: str | None = None):
        """%%job [-i TYPE] [--in a,b] [--out x,y] [--inputs F] [--outputs F] [--no-wait] ...: run the cell
        as a job, its output streamed here; with --cron EXPR [--tz ZONE], schedule it (its variables as they
        are now) instead. %job list|status|logs|attach|result|cancel ID, %job run NB, %job schedule NB --cron
        EXPR, %job schedules [ID], %job schedules pause|resume|delete ID."""
        try:
            if cell is None:
                return self._line(line)
            return self._cell(line, cell)
        except JobsError as exc:
            if hasattr(exc, "_render_traceback_"):
                raise
            raise UsageError(str(exc)) from None

    # -- %%job ------------------------------------------------------------------------------------------
    def _cell(self, line: str, cell: str):
        from .notebook.build import Options, prepare_cell
        from .notebook.live import handle_display
        from .submit import schedule_prepared, submit_prepared

        args = _cell_arguments.parser.parse_args(_argv(line))
        timing = schedule_timing.from_args(args, args.name) if args.cron is not None else None
        if timing is None and any(flag is not None for flag in (args.timezone, args.missed, args.overlap)):
            raise UsageError("--tz, --missed and --overlap are for a scheduled cell: add --cron EXPR")
        source = self._cell_label()
        options = Options(name=args.name or source, desc=args.desc, instance=args.instance, inputs=_split(args.inputs),
                          outputs=_split(args.outputs), in_vars=_split(args.in_vars), out_vars=_split(args.out_vars),
                          docker=args.docker, env=_pairs(args.env, "--env"), requirements=args.requirements,
                          pip=[p for group in args.pip or [] for p in group], executor=args.executor,
                          timeout=args.timeout)
        client = self.client
        transformed = self.shell.transform_cell(cell)
        prepared = prepare_cell(cell, transformed, self.shell.user_ns, set(self.shell.user_ns_hidden), options,
                                client.settings, base=Path.cwd(), python=sys.executable,
                                execution_count=self.shell.execution_count,
                                cell_names=getattr(self.shell.compile, "_filename_map", None))
        for warning in prepared.warnings:
            print(f"jobs: warning: {warning}", file=sys.stderr)
        if timing is not None:
            return self._scheduled(schedule_prepared(client, prepared, source, timing, options.executor))
        run = submit_prepared(client, prepared, source, options.executor)
        if args.no_wait:
            from IPython.display import display

            display(handle_display(run), raw=True)
            return None
        self._follow(run, options.out_vars)
        return None

    def _cell_label(self) -> str:
        """What a `%%job` run is named after, and its source: its notebook and cell, `analysis.ipynb [5]`
        (the notebook as the kernel knows it: Jupyter's session, VS Code's file), else `cell [5]`."""
        ns = self.shell.user_ns
        notebook = ns.get("__session__") or ns.get("__vsc_ipynb_file__") or os.environ.get("JPY_SESSION_NAME")
        where = Path(str(notebook)).name if notebook else "cell"
        return f"{where} [{self.shell.execution_count}]"

    def _follow(self, run, out_vars: list[str] | None, label: str = ""):
        """Stream the run here; then bring files back (also after a failure) and variables (on success)."""
        from .notebook.live import JobFailed, LiveRun
        from .notebook.results import load_variables

        live = LiveRun(self.client, run, label)
        try:
            run = live.wait()
        except JobFailed:
            self._files(self.client.get(run.id))
            raise
        self._files(run)
        values, notes = load_variables(self.client, run, out_vars)
        self.shell.user_ns.update(values)
        for note in notes:
            print(f"jobs: warning: {note}", file=sys.stderr)
        return run

    def _files(self, run) -> None:
        from .notebook.results import download_files

        files, notes = download_files(self.client, run)
        for note in notes:
            print(f"jobs: warning: {note}", file=sys.stderr)

    # -- %job ... ---------------------------------------------------------------------------------------
    def _line(self, line: str):
        parser = _job_parser()
        argv = _argv(line)
        if not argv:
            raise UsageError("%job needs a command: list, status, logs, attach, result, cancel, run, schedule, "
                             "schedules (a cell starting with %%job runs as a job)")
        args = parser.parse_args(argv)
        return getattr(self, f"_cmd_{args.command}")(args)

    def _cmd_list(self, args):
        from . import console

        runs = self.client.list(status=args.status, limit=args.limit)
        rows = "".join(
            f"<tr><td><code>{r.id}</code></td><td>{html.escape(r.name or '-')}</td>"
            f"<td>{html.escape(console._status(r))}</td><td>{html.escape(r.instance_type)}</td><td>{console.when(r.created_at)}</td>"
            f"<td>{console.duration(r)}</td><td>{html.escape(console.run_source(r))}</td></tr>" for r in runs)
        head = "".join(f"<th>{h}</th>" for h in ("id", "name", "status", "instance", "created", "duration", "source"))
        return _Html(f"<table><tr>{head}</tr>{rows}</table>", console.runs_table(runs) if runs else "no jobs")

    def _cmd_status(self, args):
        from . import console

        run = self.client.get(self.client.resolve_id(args.id))
        text = console.run_details(run)
        return _Html(f"<pre>{html.escape(text)}</pre>", text)

    def _cmd_logs(self, args):
        run_id = self.client.resolve_id(args.id)
        streams = ("stdout", "stderr") if args.stream == "all" else (args.stream,)
        for stream in streams:
            text = self.client.logs(run_id, stream)
            (sys.stderr if stream == "stderr" else sys.stdout).write(text)

    def _cmd_cancel(self, args):
        run = self.client.cancel(self.client.resolve_id(args.id), graceful=True)
        print(f"job {run.id} is {run.status}" + ("" if run.finished else "; cancel requested"))

    def _cmd_attach(self, args):
        run = self.client.get(self.client.resolve_id(args.id))
        if run.kind == "notebook":
            return self._follow_notebook(run)
        self._follow(run, None, label="(attached)")

    def _cmd_result(self, args):
        from .notebook.live import JobFailed
        from .notebook.results import load_variables

        run = self.client.get(self.client.resolve_id(args.id))
        if not run.finished:
            raise UsageError(f"job {run.id} is {run.status}; follow it with %job attach {run.id}")
        self._files(run)
        if run.status != Status.SUCCEEDED:
            raise JobFailed(run.id, run.status, run.error)
        values, notes = load_variables(self.client, run, args.names or None)
        self.shell.user_ns.update(values)
        for note in notes:
            print(f"jobs: warning: {note}", file=sys.stderr)
        if values:
            from .runner.nbexec import type_name

            print("brought back: " + ", ".join(f"{n} ({type_name(v)})" for n, v in values.items()))

    def _prepare_notebook(self, args, target: Path):
        """The notebook job of `%job run`'s and `%job schedule`'s options, its warnings said."""
        from .notebook.build import Options, prepare_notebook
        from .notebook.parameters import from_args

        options = Options(name=args.name, instance=args.instance, inputs=_split(args.inputs),
                          outputs=_split(args.outputs), env=_pairs(args.env, "--env"), executor=args.executor,
                          timeout=args.timeout, lenient=args.lenient)
        prepared = prepare_notebook(args.notebook, from_args(args), options, self.client.settings, target,
                                    python=sys.executable)
        for warning in prepared.warnings:
            print(f"jobs: warning: {warning}", file=sys.stderr)
        return prepared

    def _cmd_run(self, args):
        from .notebook.live import handle_display
        from .notebook.results import staging_output
        from .submit import submit_prepared

        target = Path(args.output).resolve() if args.output else staging_output(args.notebook)
        prepared = self._prepare_notebook(args, target)
        run = submit_prepared(self.client, prepared, str(Path(args.notebook).resolve()), args.executor)
        if args.no_wait:
            from IPython.display import display

            display(handle_display(run), raw=True)
            return None
        return self._follow_notebook(run)

    def _cmd_schedule(self, args):
        from .notebook.results import staging_output
        from .submit import schedule_prepared

        timing = schedule_timing.from_args(args, args.name)  # a bad --cron / --tz: before the notebook is read
        prepared = self._prepare_notebook(args, staging_output(args.notebook))
        return self._scheduled(schedule_prepared(self.client, prepared, str(Path(args.notebook).resolve()), timing,
                                                 args.executor))

    def _scheduled(self, schedule):
        from . import console

        lines = console.schedule_created(schedule, self.client.schedule_note)
        text = "\n".join(lines)
        return _Html("<br>".join(html.escape(line) for line in lines), text)

    def _cmd_schedules(self, args):
        from . import console

        if args.words:
            return self._schedule_action(args.words)
        schedules = self.client.schedules()
        rows = "".join(
            f"<tr><td><code>{s.id}</code></td><td>{html.escape(s.name)}</td><td><code>{html.escape(s.cron)}</code> "
            f"{html.escape(s.timezone)}<br><small>{html.escape(s.description)}</small></td>"
            f"<td>{'paused' if s.paused else html.escape(console.fire_time(s.next_fire_at))}</td>"
            f"<td>{html.escape(s.last_status or '-')}</td></tr>" for s in schedules)
        head = "".join(f"<th>{h}</th>" for h in ("id", "name", "cron", "next", "last"))
        return _Html(f"<table><tr>{head}</tr>{rows}</table>",
                     console.schedules_table(schedules) if schedules else "no schedules")

    def _schedule_action(self, words: list[str]):
        """`%job schedules ID` shows one; `pause|resume|delete ID` changes it."""
        from . import console

        action, ids = (words[0], words[1:]) if words[0] in _SCHEDULE_ACTIONS else ("show", words)
        if len(ids) != 1:
            raise UsageError("%job schedules takes one schedule id: %job schedules [pause|resume|delete] ID")
        client = self.client
        found = client.schedule(client.resolve_schedule_id(ids[0]))
        if action == "show":
            text = console.schedule_details(found, client.schedule_runs(found.id))
            return _Html(f"<pre>{html.escape(text)}</pre>", text)
        if action == "delete":
            client.delete_schedule(found.id)
        else:
            found = getattr(client, f"{action}_schedule")(found.id)
        print(console.schedule_changed(action, found, resume_with="%job schedules resume", fired=found.run_count))
        return None

    def _follow_notebook(self, run):
        """Follow a notebook run; the executed notebook comes back also when a cell failed."""
        from .notebook.live import JobFailed, LiveRun
        from .notebook.results import download_executed_notebook, executed_notebook_path, split_outputs

        failure = None
        try:
            run = LiveRun(self.client, run, "notebook").wait()
        except JobFailed as exc:
            failure = exc
            run = self.client.get(run.id)
        notebook, others = split_outputs(run)
        dest = executed_notebook_path(run)
        path = download_executed_notebook(self.client, run, dest) if notebook and dest else None
        if others.outputs and not run.data_deleted:
            self.client.download_outputs(others)
        if path is not None:
            from IPython.display import display

            rel = os.path.relpath(path)
            display({"text/html": f"<div style='font-size:90%'>executed notebook: <a href='{html.escape(rel)}' "
                                  f"target='_blank'>{html.escape(rel)}</a></div>",
                     "text/plain": f"executed notebook: {rel}"}, raw=True)
        if failure is not None:
            raise failure
        return None


def load_ipython_extension(ipython) -> None:
    ipython.register_magics(JobMagics)


def unload_ipython_extension(ipython) -> None:
    pass
