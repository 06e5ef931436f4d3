"""Commands about runs already submitted: list, get, logs, cancel, download-files, set-data-ttl, delete, cleanup."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import JobsError
from ..runner import protocol
from ..spec.units import plural
from .common import _client, _show, _step
from .submitting import _download


def cmd_list(args) -> int:
    from .. import console
    from ..notebook.results import run_json

    runs = _client().list(status=args.status, limit=args.limit)
    return _show(runs, args.format, console.runs_table,
                 lambda: "no jobs yet; run one with `jupyter jobs execute -c config.yaml`", run_json)


def cmd_get(args) -> int:
    from .. import console
    from ..notebook.results import executed_notebook_path, run_json

    client = _client()
    run = client.get(client.resolve_id(args.id))
    if args.format == "json":
        print(json.dumps(run_json(run), indent=1))
    else:
        print(console.run_details(run, executed_notebook_path(run)))
    return 0


def cmd_logs(args) -> int:
    from .. import console

    client = _client()
    run_id = client.resolve_id(args.id)
    streams = set(protocol.STREAMS) if args.stream == "all" else {args.stream}
    if not args.follow and not args.timestamps and args.stream != "all":
        sys.stdout.write(client.logs(run_id, args.stream))
        return 0
    printer = console.EventPrinter(timestamps=args.timestamps, streams=streams, quiet=True,
                                   detail=args.stream == "system")
    if args.follow:
        for event in client.follow(run_id):
            printer(event)
    else:
        events, _ = client.events(run_id)
        for event in events:
            printer(event)
    return 0


def cmd_cancel(args) -> int:
    from .. import console

    client = _client()
    run = client.cancel(client.resolve_id(args.id), graceful=args.graceful)
    console.info(f"job {run.id} is {run.status}" + ("" if run.finished else "; cancel requested"))
    return 0


def cmd_download_files(args) -> int:
    from .. import console

    client = _client()
    run = client.get(client.resolve_id(args.id))
    out = Path(args.output_dir)
    _download(client, run, out)
    if args.with_logs:
        _step("downloading the job's logs")
        files = client.download_logs(run.id, out)
        console.info(f"downloaded {plural(len(files), 'log file')} to {out / 'logs'}")
    return 0


def cmd_set_data_ttl(args) -> int:
    from .. import console

    text = args.days.strip().lower()
    try:
        days = None if text in ("inf", "infinity") else float(text)
    except ValueError:
        raise JobsError(f"--days {args.days!r}: expected a number of days or `inf`") from None
    if days is not None and days < 0:
        raise JobsError("--days must not be negative")
    client = _client()
    run = client.set_ttl(client.resolve_id(args.id), days)
    console.info(f"job {run.id}: data kept " + ("forever" if days is None else
                                                 f"until {console.when(run.expires_at)}"))
    return 0


def cmd_delete(args) -> int:
    from .. import console

    client = _client()
    run_id = client.resolve_id(args.id)
    client.delete(run_id)
    console.info(f"job {run_id} deleted")
    return 0


def cmd_cleanup(args) -> int:
    from .. import console
    from ..spec.units import format_size

    freed = _client().cleanup()
    console.info(f"deleted the data of {plural(freed['runs'], 'expired run')}; "
                 f"freed {format_size(freed['blob_bytes'])} of stored inputs")
    return 0
