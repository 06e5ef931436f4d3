"""`jupyter jobs schedule ...`: save a job (a config or a notebook) with a cron schedule; list, inspect,
pause, resume and delete schedules, and list the runs they fired.

A schedule is fired by a Jupyter server with jupyter-jobs (its firing loop); without one nothing fires,
which `create` says when it went through the embedded client.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import JobsError
from .common import _client, _show
from .submitting import prepare_notebook_job, send_config

#: A notebook job's flags (parser._add_notebook_job) that a config's job takes from its config instead.
_NOTEBOOK_ONLY = {"parameters": "-p", "raw_parameters": "-r", "parameter_files": "-f", "parameter_yaml": "-y",
                  "lenient": "--lenient", "inputs": "--inputs", "outputs": "--outputs", "env_var": "--env-var",
                  "timeout": "--timeout"}


def cmd_schedule(args) -> int:
    return ACTIONS[args.action](args)


def _create(args) -> int:
    from .. import console, schedule_timing
    from ..notebook.results import staging_output
    from ..submit import schedule, schedule_prepared

    timing = schedule_timing.from_args(args, args.name)  # a bad --cron / --tz: before anything is read
    if args.config:
        for dest, flag in _NOTEBOOK_ONLY.items():
            if getattr(args, dest):
                raise JobsError(f"{flag} is for --notebook schedules",
                                hint=f"the job of {args.config} takes it from the config")
        client, created = send_config(args.config, lambda client, spec, *job, on_upload: schedule(
            client, spec.model_copy(update={"instance_types": [args.instance]}) if args.instance else spec,
            *job, timing, args.executor, on_upload=on_upload))
    else:
        client = _client()
        prepared = prepare_notebook_job(client, args, staging_output(args.notebook))
        created = schedule_prepared(client, prepared, str(Path(args.notebook).resolve()), timing, args.executor)
    for line in console.schedule_created(created, client.schedule_note):
        console.info(line)
    print(created.id)
    return 0


def _list(args) -> int:
    from .. import console

    return _show(_client().schedules(), args.format, console.schedules_table,
                 lambda: "no schedules yet; create one with "
                         "`jupyter jobs schedule create -c config.yaml --cron \"0 3 * * *\"`")


def _get(args) -> int:
    from .. import console

    client = _client()
    found = client.schedule(client.resolve_schedule_id(args.id))
    if args.format == "json":
        print(found.model_dump_json(indent=1))
    else:
        print(console.schedule_details(found, client.schedule_runs(found.id)))
    return 0


def _pause(args) -> int:
    from .. import console

    client = _client()
    paused = client.pause_schedule(client.resolve_schedule_id(args.id))
    console.info(console.schedule_changed("pause", paused, resume_with="jupyter jobs schedule resume"))
    return 0


def _resume(args) -> int:
    from .. import console

    client = _client()
    resumed = client.resume_schedule(client.resolve_schedule_id(args.id))
    console.info(console.schedule_changed("resume", resumed))
    return 0


def _delete(args) -> int:
    from .. import console

    client = _client()
    found = client.schedule(client.resolve_schedule_id(args.id))
    client.delete_schedule(found.id)
    console.info(console.schedule_changed("delete", found, fired=found.run_count))
    return 0


def _runs(args) -> int:
    from .. import console

    client = _client()
    schedule_id = client.resolve_schedule_id(args.id)

    def none() -> str:
        found = client.schedule(schedule_id)
        return (f"schedule {schedule_id} has fired no runs yet; next: "
                f"{'paused' if found.paused else console.fire_time(found.next_fire_at, found.timezone)}")

    return _show(client.schedule_runs(schedule_id), args.format, console.runs_table, none)


ACTIONS = {"create": _create, "list": _list, "get": _get, "pause": _pause, "resume": _resume, "delete": _delete,
           "runs": _runs}
