"""The service's side of the Ray executor's relay transport (`c.RayExecutor.transport = "relay"`), for
nodes that share no disk with the service.

Out: `stage()` builds the folder Ray uploads as the job's `runtime_env.working_dir` (the runner, its
plan, the input blobs, the secrets file); the runner (runner/relay.py) keeps its run dir on the node.
Back: the runner writes relay records to its stdout, the Ray job's log; `apply_log()` applies the ones
past the position kept in the run dir (`RELAY_STATE`): events appended to events.jsonl, output chunks
written at their position under outputs/, result.json last. A batch is marked pending before it is
applied, and a pending batch is undone (events.jsonl cut back) and applied again, so a service killed
with kill -9 mid-batch appends nothing twice.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
from pathlib import Path

from ..errors import ExecutorError
from ..runner import layout, protocol
from .shared_fs import SECRETS_ENV

STAGING = "ray-relay"  # folder of the data dir where a job's working_dir is built, removed once uploaded
SECRETS = "secrets.json"  # in the staging folder: read and deleted by the runner at start


def stage(data_dir: Path, run_dir: Path, zipapp: Path, secrets: dict[str, str]) -> tuple[Path, dict[str, str]]:
    """The working_dir to upload for the run, and the job's variables (where the secrets file is)."""
    plan = layout.read_json(run_dir / protocol.PLAN)
    if plan.get("mounts"):
        folders = ", ".join(m["host"] for m in plan["mounts"])
        raise ExecutorError(f"the job uses folders of this machine ({folders}), which the Ray nodes cannot "
                            f"see with c.RayExecutor.transport = 'relay'",
                            hint="use the 'shared-fs' transport with a path_map, or drop the datasets / project disk")
    if plan.get("python"):
        raise ExecutorError("a job with its own Python environment (env.python) needs the 'shared-fs' transport "
                            "of the Ray executor (the environment cache lives in the data dir)")
    staging = Path(data_dir) / STAGING / Path(run_dir).name
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "blobs").mkdir(parents=True)
    for item in plan["inputs"]:
        if item.get("blob"):
            name = Path(item["blob"]).name
            if not (staging / "blobs" / name).exists():
                _link_or_copy(Path(item["blob"]), staging / "blobs" / name)
            item["blob"] = f"blobs/{name}"
    _link_or_copy(zipapp, staging / zipapp.name)
    layout.write_json(staging / protocol.PLAN, plan)
    if not secrets:
        return staging, {}
    fd = os.open(staging / SECRETS, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(secrets, fh)
    return staging, {SECRETS_ENV: SECRETS}


def _link_or_copy(src: Path, dest: Path) -> None:
    """A hard link where the file system allows it (blobs are never changed in place), else a copy."""
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def records(log: str, start: int) -> list[dict]:
    """The relay records of a Ray job's log numbered `start` on, in order, up to the first one missing
    (a line still being written is not complete yet)."""
    found = {}
    for line in log.splitlines(keepends=True):
        if line.startswith(protocol.RELAY_MARKER) and line.endswith("\n"):
            try:
                record = json.loads(line[len(protocol.RELAY_MARKER):])
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("n"), int) and record["n"] >= start:
                found[record["n"]] = record
    out = []
    while start + len(out) in found:
        out.append(found[start + len(out)])
    return out


def apply_log(run_dir: Path, log: str, ended: bool = True) -> None:
    """Bring the run dir up to date with the records of the job's log it has not applied yet. While the
    job runs (`ended` False) a result record waits for the result event the runner sends right after it,
    so result.json (which settles the run) never comes before the last event."""
    run_dir = Path(run_dir)
    with open(run_dir / f".{protocol.RELAY_STATE}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one reader at a time, in this process or another
        state_path = run_dir / protocol.RELAY_STATE
        state = layout.read_json(state_path) or {"n": 0, "offset": 0}
        events = run_dir / protocol.EVENTS
        if "pending" in state:  # a batch cut short: undo its events, apply it again
            os.truncate(events, state.pop("pending"))
        batch = records(log, state["n"])
        if batch and "result" in batch[-1] and not ended:
            batch.pop()
        if not batch:
            return
        layout.write_json(state_path, {**state, "pending": events.stat().st_size if events.exists() else 0})
        result = None
        with layout.open_events(run_dir) as fh:
            for record in batch:
                if "event" in record:
                    fh.write(record["line"])
                    state["offset"] = record["event"] + len(record["line"].encode("utf-8"))
                elif "file" in record:
                    _write_chunk(run_dir / protocol.OUTPUTS, record)
                else:
                    result = record["result"]
        if result is not None:  # last: a result settles the run
            layout.write_json(run_dir / protocol.RESULT, result)
        layout.write_json(state_path, {"n": batch[-1]["n"] + 1, "offset": state["offset"]})


def _write_chunk(root: Path, record: dict) -> None:
    """A chunk of an output file at its position (a chunk applied twice writes the same bytes)."""
    path = root / record["file"]
    if Path(record["file"]).is_absolute() or ".." in Path(record["file"]).parts:
        return  # not a path the runner sends: never written outside outputs/
    path.parent.mkdir(parents=True, exist_ok=True)
    data = base64.b64decode(record["data"])
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, record.get("mode", 0o644))
    try:
        if record["at"] == 0:
            os.ftruncate(fd, 0)
        os.pwrite(fd, data, record["at"])
    finally:
        os.close(fd)
