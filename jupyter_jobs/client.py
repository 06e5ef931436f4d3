"""The one client every front door uses. Embedded: the JobsService in this process, zero set-up."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .capture.files import Captured
from .service.schemas import CronPreview, ForkRequest, Run, Schedule, ScheduleRequest, SubmitRequest
from .settings import JobsSettings, load_settings
from .spec.bundle import local_path

_CHUNK = 1 << 20


@dataclass
class UploadReport:
    new_files: int = 0
    new_bytes: int = 0
    stored_files: int = 0


@dataclass
class DownloadReport:
    files: list[Path] = field(default_factory=list)
    bytes: int = 0
    missing: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    #: One message per output not brought back because its destination would leave its folder.
    refused: list[str] = field(default_factory=list)


def download_outputs(run: Run, fetch: Callable[[str, Path], object], output_dir: Path | None,
                     limit: int) -> DownloadReport:
    """Bring a run's outputs back, for both clients (`fetch(name, dest)` copies one file): to their
    declared paths (relative to the config's folder), or keeping their layout under `output_dir`.
    Smallest first; past `limit` bytes the rest is skipped and listed.

    Only outputs the run's spec declares are brought back, each to the place its declaration names;
    the file names found inside a declared folder must stay inside it (resolved), and with
    `output_dir` everything stays inside that. Anything else is refused, one message per entry."""
    from .service.outputs import declared_outputs

    report = DownloadReport()
    declared = {(ref.path, src) for ref, src in declared_outputs(run.spec)}
    todo = []
    for entry in run.outputs:
        if entry.missing:
            report.missing.append(entry.name)
            continue
        root = (output_dir / entry.src) if output_dir else local_path(entry.name, run.origin.base_dir or ".")
        if (entry.name, entry.src) not in declared:
            report.refused.append(f"output {entry.name!r} is not one the job's spec declares: not downloaded")
            continue
        if output_dir and not _inside(root, output_dir):
            report.refused.append(f"output {entry.name!r} would be written outside {output_dir}: not downloaded")
            continue
        for f in entry.files:
            within = f.path[len(entry.src) + 1:] if f.path.startswith(entry.src + "/") else None
            dest = root if f.path == entry.src else root / within if within else None
            if dest is None or (within and not _inside(dest, root)):
                report.refused.append(f"output file {f.path!r} would be written outside {root}: not downloaded")
                continue
            todo.append((f.size, f.path, dest))
    for size, name, dest in sorted(todo, key=lambda item: item[0]):
        if report.bytes + size > limit:
            report.skipped.append(name)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        fetch(name, dest)
        report.files.append(dest)
        report.bytes += size
    return report


def _inside(path: Path, root: Path) -> bool:
    """Whether `path` (resolved, as far as it exists) is `root` or under it."""
    real, real_root = os.path.realpath(path), os.path.realpath(root)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def save_chunks(chunks: Iterable[bytes], dest: Path, keep_empty: bool = True) -> int:
    """Write `chunks` to `dest` through a temporary file beside it: `dest` is whole or untouched, and
    no temporary file is left behind when writing fails (a full disk, say). Returns the size; with
    `keep_empty=False` nothing is written for no data."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
            size = out.tell()
        if size or keep_empty:
            os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return size


def save_logs(output_dir: Path, texts: Callable[[str], Iterable[bytes]], events: Iterable[bytes]) -> list[Path]:
    """`logs/<stream>.log` of each stream that has output (`texts(stream)`), and `logs/events.jsonl`."""
    from .runner import protocol

    out = []
    for stream, chunks in [(s, texts(s)) for s in protocol.STREAMS] + [(None, events)]:
        path = output_dir / "logs" / (protocol.log_file(stream) if stream else protocol.EVENTS)
        if save_chunks(chunks, path, keep_empty=False):
            out.append(path)
    return out


class EmbeddedClient:
    """Runs the service in-process; jobs still run detached, so they outlive this process.

    Reads go through the service's own `Reads` on the index; the service itself (executors, the
    instance catalogue, the queue) is built on first need, so `list`, `get` and `logs` of finished runs
    import none of it (a live run is settled, and a waiting queue dispatched, through the service)."""

    def __init__(self, settings: JobsSettings | None = None, service=None):
        """`service`: one this process already runs (the server's), else one built on `settings` when needed."""
        self.settings = settings or (service.settings if service else load_settings())
        self._service = service
        if service is not None:
            self.reads = service.reads
        else:
            from .service.index import open_index
            from .service.reads import Reads

            self.reads = Reads(open_index(self.settings.data_dir, self.settings.db_url),
                               lambda row: self.service.reads.settle(row))

    @property
    def service(self):
        """The JobsService, built on first use."""
        if self._service is None:
            from .service.service import JobsService

            self._service = JobsService(self.settings, index=self.reads.index)
        return self._service

    # -- submitting -----------------------------------------------------------------------------------
    def upload(self, captured: Captured) -> UploadReport:
        report = UploadReport()
        missing = set(self.service.missing_blobs(captured.sources))
        report.stored_files = len(captured.sources) - len(missing)
        for sha in sorted(missing):
            path = captured.sources[sha]
            self.service.blobs.put_file(path, sha)
            report.new_files += 1
            report.new_bytes += path.stat().st_size
        return report

    def submit(self, request: SubmitRequest) -> Run:
        return self.service.submit(request)

    def fork(self, run_id: str, request: ForkRequest) -> Run:
        return self.service.fork(run_id, request)

    # -- reading --------------------------------------------------------------------------------------
    def resolve_id(self, prefix: str) -> str:
        return self.reads.index.resolve_id(prefix)

    def get(self, run_id: str) -> Run:
        return self.reads.get(run_id)

    def list(self, **filters) -> list[Run]:
        from .service.queue import has_waiting, queue_dir

        if self._service is not None or has_waiting(queue_dir(self.settings.data_dir)):
            return self.service.list(**filters)  # embedded: what waits is dispatched first
        return self.reads.list(**filters)

    def follow(self, run_id: str, offset: int = 0) -> Iterator[dict]:
        return self.reads.follow(run_id, offset)

    def events(self, run_id: str, offset: int = 0) -> tuple[list[dict], int]:
        return self.reads.events(run_id, offset)

    def logs(self, run_id: str, stream: str) -> str:
        return self.reads.logs(run_id, stream)

    def instance_types(self, executor: str | None = None):
        return self.service.instance_types(executor)

    # -- changing -------------------------------------------------------------------------------------
    def cancel(self, run_id: str, graceful: bool = False) -> Run:
        return self.service.cancel(run_id, graceful)

    def set_ttl(self, run_id: str, days: float | None) -> Run:
        return self.service.set_ttl(run_id, days)

    def delete(self, run_id: str) -> None:
        self.service.delete(run_id)

    def cleanup(self) -> dict:
        return self.service.cleanup()

    # -- schedules ------------------------------------------------------------------------------------
    @property
    def schedule_note(self) -> str | None:
        """One line to show when a schedule is created: in-process, nothing fires it."""
        if not self.service.embedded:
            return None
        return ("no Jupyter server with jupyter_jobs is running here: the schedule is saved, and fires once "
                "one runs on this index (start `jupyter lab`, or set JUPYTER_JOBS_URL)")

    def create_schedule(self, request: ScheduleRequest) -> Schedule:
        return self.service.create_schedule(request)

    def schedules(self) -> list[Schedule]:
        return self.service.list_schedules()

    def schedule(self, schedule_id: str) -> Schedule:
        return self.service.get_schedule(schedule_id)

    def resolve_schedule_id(self, prefix: str) -> str:
        return self.service.resolve_schedule_id(prefix)

    def pause_schedule(self, schedule_id: str) -> Schedule:
        return self.service.pause_schedule(schedule_id)

    def resume_schedule(self, schedule_id: str) -> Schedule:
        return self.service.resume_schedule(schedule_id)

    def delete_schedule(self, schedule_id: str) -> None:
        self.service.delete_schedule(schedule_id)

    def schedule_runs(self, schedule_id: str) -> list[Run]:
        return self.service.schedule_runs(schedule_id)

    def cron_preview(self, cron: str, timezone: str = "UTC") -> CronPreview:
        return self.service.cron_preview(cron, timezone)

    # -- secrets (values go in, only names come out) --------------------------------------------------
    def set_secret(self, name: str, value: str) -> None:
        self.service.secrets.set(name, value)

    def secret_names(self) -> list[str]:
        return self.service.secrets.names()

    def delete_secret(self, name: str) -> None:
        self.service.secrets.delete(name)

    # -- results --------------------------------------------------------------------------------------
    def download_outputs(self, run: Run, output_dir: Path | None = None,
                         max_bytes: int | None = None) -> DownloadReport:
        from .service.outputs import open_output

        def fetch(name: str, dest: Path) -> None:
            with open_output(src_root, name) as src:  # never through a symlink the job left
                save_chunks(iter(lambda: src.read(_CHUNK), b""), dest)

        src_root = self.reads.outputs_dir(run.id)
        limit = self.settings.max_download_size if max_bytes is None else max_bytes
        return download_outputs(run, fetch, output_dir, limit)

    def download_logs(self, run_id: str, output_dir: Path) -> list[Path]:
        from .service.rundir import RunDir

        rundir = RunDir(self.reads.run_dir(run_id))

        def events() -> Iterator[bytes]:
            fh = rundir.open_events()  # never through a symlink the job left
            if fh is not None:
                with fh:
                    yield from iter(lambda: fh.read(_CHUNK), b"")

        return save_logs(output_dir, lambda s: (t.encode("utf-8", "replace") for t in rundir.log_chunks(s)), events())
