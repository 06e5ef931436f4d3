"""The Python API: jobs from Python code, as the seeds' SDKs have it.

    from jupyter_jobs import Job

    run = Job(cmd="python train.py", instance="g2.1", inputs=["train.py"], outputs=["model.pt"]).run()
    run.result()  # the final Run; outputs downloaded; JobFailed if the job failed

A `Job` is what to run (a command, a config.yaml, a notebook); `submit()` / `run()` send it through the
one submission module (`submit.py`) with the client `connect()` picks (a running Jupyter server's API,
else the service in this process) and return a `JobRun` handle. `get_run(id)` finds a handle again.
`schedule(cron, timezone)` saves it to run on a cron schedule instead (a `JobSchedule`; `get_schedule(id)`,
`list_schedules()`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from .errors import ConfigError
from .notebook.live import JobCancelled, JobFailed
from .runner.protocol import Status
from .service.schemas import Run, Schedule
from .spec.models import JobSpec

__all__ = ["Job", "JobRun", "JobSchedule", "JobFailed", "JobCancelled", "get_run", "get_schedule",
           "list_schedules"]

Files = Iterable[str] | Mapping[str, str | None]


def _refs(files: Files | None) -> list[dict]:
    """Paths, or path -> variable name (the `${VAR}` the command uses), as a config's inputs/outputs."""
    if files is None:
        return []
    if isinstance(files, str):
        files = [files]
    items = files.items() if isinstance(files, Mapping) else ((path, None) for path in files)
    return [{"path": str(path), "var": var} for path, var in items]


def _instances(instance: str | list[str] | None) -> list[str] | None:
    return None if instance is None else [instance] if isinstance(instance, str) else list(instance)


#: JobSpec fields under the names Job() takes them.
_ARGUMENTS = {"instance_types": "instance", "timeout_s": "timeout"}


def _spec(**values) -> JobSpec:
    """A JobSpec from keyword arguments; a wrong value is one ConfigError naming the argument."""
    try:
        return JobSpec(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(part) for part in first["loc"]]
        if loc[:2] == ["env", "vars"]:  # Job(env=...) is the spec's env.vars
            del loc[1]
        key = ".".join([_ARGUMENTS.get(loc[0], loc[0]), *loc[1:]]) if loc else "Job"
        raise ConfigError(first["msg"], key=f"Job({key})") from None


class Job:
    """What to run: a command (like a config.yaml's `cmd`) with its inputs, outputs and environment,
    or a notebook (`Job.from_notebook`). Paths are relative to `base_dir` (default: the current folder)."""

    def __init__(self, cmd: str | None = None, *, instance: str | list[str] | None = None,
                 inputs: Files | None = None, outputs: Files | None = None, env: Mapping[str, str] | None = None,
                 name: str | None = None, desc: str | None = None, timeout: float | None = None,
                 retries: int | None = None, executor: str | None = None,
                 base_dir: str | os.PathLike | None = None):
        self.base_dir = Path(base_dir or os.getcwd()).resolve()
        self.executor = executor
        self.spec = _spec(cmd=cmd or "", instance_types=_instances(instance), inputs=_refs(inputs),
                          outputs=_refs(outputs), env={"vars": dict(env or {})}, name=name, desc=desc,
                          timeout_s=timeout, retries=retries)
        self.source: str | None = None
        self._loaded = None  # the config file read, so errors name its lines
        self._notebook: dict[str, Any] | None = None

    @classmethod
    def from_yaml(cls, path: str | os.PathLike, executor: str | None = None) -> Job:
        """A DataSphere-style config.yaml, read as `jupyter jobs execute -c` reads it."""
        from .spec.config import load_config

        loaded = load_config(path)
        job = cls.__new__(cls)
        job.base_dir, job.executor, job.spec = loaded.base_dir, executor, loaded.spec
        job.source, job._loaded, job._notebook = str(Path(path).resolve()), loaded, None
        return job

    @classmethod
    def from_notebook(cls, path: str | os.PathLike, parameters: Mapping[str, Any] | None = None, *,
                      instance: str | None = None, inputs: Iterable[str] = (), outputs: Iterable[str] = (),
                      env: Mapping[str, str] | None = None, name: str | None = None, timeout: float | None = None,
                      output: str | os.PathLike | None = None, executor: str | None = None) -> Job:
        """A notebook run with papermill in the job, as `jupyter jobs run` does: `parameters` go to its
        `parameters` cell; the executed notebook comes back as `output` (default NAME-RUNID.ipynb)."""
        from .notebook.build import Options

        nb = Path(path).resolve()
        job = cls.__new__(cls)
        job.base_dir, job.executor, job.spec = nb.parent, executor, None
        job.source, job._loaded = str(nb), None
        job._notebook = {"path": nb, "parameters": dict(parameters or {}),
                         "output": Path(output).resolve() if output else None,
                         "options": Options(name=name, instance=instance, inputs=list(inputs),
                                            outputs=list(outputs), env=dict(env or {}), timeout=timeout,
                                            executor=executor)}
        return job

    def submit(self, client=None) -> JobRun:
        """Upload what the service lacks and submit; returns at once (the job runs detached)."""
        from .connect import connect

        client = client or connect()
        return JobRun(client, self._send(client))

    def schedule(self, cron: str, timezone: str = "UTC", *, missed: str = "skip", overlap: str = "skip",
                 name: str | None = None, client=None) -> JobSchedule:
        """Save this job (its files as they are now) to run on a cron schedule, as `jupyter jobs schedule
        create` does: `cron` has 5 fields (e.g. "0 3 * * *"), read in `timezone` (IANA); `missed` ("skip" or
        "run-once") is what happens to ticks missed while no server ran, `overlap` ("skip" or "queue") to a
        tick while the previous run still goes. A Jupyter server with jupyter-jobs fires it."""
        from .connect import connect
        from .schedule_timing import make_timing

        timing = make_timing({field: f"Job.schedule({field})" for field in ("cron", "timezone", "missed",
                                                                            "overlap", "name")},
                             cron=cron, timezone=timezone, missed=missed, overlap=overlap, name=name)
        client = client or connect()
        return JobSchedule(client, self._send(client, timing))

    def _send(self, client, timing=None):
        """Submit the job, or with `timing` schedule it, through submit.py (as the CLI does)."""
        from .submit import capture, schedule, schedule_prepared, submit, submit_prepared

        if self._notebook is not None:
            from .notebook.build import prepare_notebook
            from .notebook.results import staging_output

            nb = self._notebook
            target = nb["output"] or staging_output(nb["path"])
            prepared = prepare_notebook(nb["path"], nb["parameters"], nb["options"], client.settings, target)
            if timing is not None:
                return schedule_prepared(client, prepared, self.source, timing, self.executor)
            return submit_prepared(client, prepared, self.source, self.executor)
        try:
            captured, _ = capture(self.spec, self.base_dir, client.settings, self._loaded and self._loaded.lines)
            if timing is not None:
                return schedule(client, self.spec, captured, self.base_dir, self.source, timing, self.executor)
            return submit(client, self.spec, captured, self.base_dir, self.source, self.executor)
        except ConfigError as exc:
            raise (self._loaded.locate(exc) if self._loaded else exc) from None

    def run(self, client=None) -> JobRun:
        """Submit, then stream the job's output here until it ends (`JobRun.watch`)."""
        handle = self.submit(client)
        handle.watch()
        return handle

    def __repr__(self) -> str:
        what = self.source or (self.spec.cmd if self.spec else "?")
        return f"Job({what!r})"


class JobRun:
    """A submitted job: its status, logs and result; it may be cancelled."""

    def __init__(self, client, run: Run):
        self.client = client
        self.id = run.id
        self._run = run
        #: The files `result()` brought back.
        self.files: list[Path] = []

    @property
    def run(self) -> Run:
        """The run as the service has it now."""
        self._run = self.client.get(self.id)
        return self._run

    @property
    def executed_notebook(self) -> Path | None:
        """A notebook run's executed notebook: where `result()` brings it back (without `output_dir`),
        the name `jupyter jobs run` and `get` show; None for other jobs."""
        from .notebook.results import executed_notebook_path

        return executed_notebook_path(self._run)

    @property
    def status(self) -> Status:
        return Status(self.run.status)

    def watch(self) -> Run:
        """Stream the job's stdout (and stderr, status and progress lines to stderr) until it ends."""
        from .console import EventPrinter

        printer = EventPrinter()
        for event in self.client.follow(self.id):
            printer(event)
        return self.run

    def wait(self) -> Run:
        """Block until the job ends, quietly."""
        for _ in self.client.follow(self.id):
            pass
        return self.run

    def logs(self, stream: str = "stdout") -> str:
        """One log stream as text so far: stdout, stderr or system."""
        return self.client.logs(self.id, stream)

    def result(self, output_dir: str | os.PathLike | None = None) -> Run:
        """Wait for the end, bring the outputs back (to their declared paths, or under `output_dir`) and
        return the final Run; raises JobFailed (JobCancelled) when it did not succeed, after the
        download (a failed job's outputs come back too)."""
        run = self.wait()
        if run.outputs and not run.data_deleted:
            from .notebook.results import download_executed_notebook, executed_notebook_path, split_outputs

            place = Path(output_dir) if output_dir else None
            notebook, others = split_outputs(run)
            dest = executed_notebook_path(run, place)  # the one name of a notebook run's executed notebook
            executed = download_executed_notebook(self.client, run, dest) if notebook and dest else None
            self.files = ([executed] if executed else []) + list(self.client.download_outputs(others, place).files)
        if run.status == Status.CANCELLED:
            raise JobCancelled(run.id, run.status, run.error)
        if run.status != Status.SUCCEEDED:
            raise JobFailed(run.id, run.status, run.error)
        return run

    def cancel(self, graceful: bool = False) -> Run:
        """Stop the job: at once, or with its graceful-shutdown signal and timeout."""
        self._run = self.client.cancel(self.id, graceful=graceful)
        return self._run

    def __repr__(self) -> str:
        return f"JobRun({self.id!r}, status={self._run.status!s})"


class JobSchedule:
    """A job saved with a cron schedule (`Job.schedule`): its next fire times and the runs it fired; it
    may be paused, resumed and deleted."""

    def __init__(self, client, schedule: Schedule):
        self.client = client
        self.id = schedule.id
        self._schedule = schedule

    @property
    def schedule(self) -> Schedule:
        """The schedule as the service has it now (next times, last status, skipped ticks)."""
        self._schedule = self.client.schedule(self.id)
        return self._schedule

    @property
    def next_times(self) -> list[datetime]:
        """The next 3 fire times, in the schedule's time zone (none while paused)."""
        schedule = self.schedule
        zone = ZoneInfo(schedule.timezone)
        return [datetime.fromtimestamp(t, zone) for t in schedule.next_times]

    def runs(self) -> list[JobRun]:
        """The runs it fired, newest first."""
        return [JobRun(self.client, run) for run in self.client.schedule_runs(self.id)]

    def pause(self) -> Schedule:
        self._schedule = self.client.pause_schedule(self.id)
        return self._schedule

    def resume(self) -> Schedule:
        """Fire again from the next tick (the ticks while paused are not run)."""
        self._schedule = self.client.resume_schedule(self.id)
        return self._schedule

    def delete(self) -> None:
        """Delete the schedule; the runs it fired stay."""
        self.client.delete_schedule(self.id)

    def __repr__(self) -> str:
        s = self._schedule
        return f"JobSchedule({self.id!r}, {s.cron!r}, timezone={s.timezone!r}, paused={s.paused})"


def get_run(run_id: str, client=None) -> JobRun:
    """The handle of a run submitted before (any front door); `run_id` may be a unique prefix."""
    from .connect import connect

    client = client or connect()
    return JobRun(client, client.get(client.resolve_id(run_id)))


def get_schedule(schedule_id: str, client=None) -> JobSchedule:
    """A schedule created before (any front door); `schedule_id` may be a unique prefix."""
    from .connect import connect

    client = client or connect()
    return JobSchedule(client, client.schedule(client.resolve_schedule_id(schedule_id)))


def list_schedules(client=None) -> list[JobSchedule]:
    """Every schedule."""
    from .connect import connect

    client = client or connect()
    return [JobSchedule(client, schedule) for schedule in client.schedules()]
