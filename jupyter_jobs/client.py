"""The one client every front door uses. Embedded: the JobsService in this process, zero set-up."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .capture.files import Captured
from .service.schemas import ForkRequest, Run, SubmitRequest
from .settings import JobsSettings, load_settings
from .spec.bundle import local_path


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


def download_outputs(run: Run, fetch: Callable[[str, Path], object], output_dir: Path | None,
                     limit: int) -> DownloadReport:
    """Bring a run's outputs back, for both clients (`fetch(name, dest)` copies one file): to their
    declared paths (relative to the config's folder), or keeping their layout under `output_dir`.
    Smallest first; past `limit` bytes the rest is skipped and listed."""
    report = DownloadReport()
    todo = []
    for entry in run.outputs:
        if entry.missing:
            report.missing.append(entry.name)
            continue
        root = (output_dir / entry.src) if output_dir else local_path(entry.name, run.origin.base_dir or ".")
        for f in entry.files:
            within = f.path[len(entry.src):].lstrip("/")
            todo.append((f.size, f.path, root / within if within else root))
    for size, name, dest in sorted(todo, key=lambda item: item[0]):
        if report.bytes + size > limit:
            report.skipped.append(name)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        fetch(name, dest)
        report.files.append(dest)
        report.bytes += size
    return report


class EmbeddedClient:
    """Runs the service in-process; jobs still run detached, so they outlive this process."""

    def __init__(self, settings: JobsSettings | None = None):
        from .service.service import JobsService

        self.settings = settings or load_settings()
        self.service = JobsService(self.settings)

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
        return self.service.resolve_id(prefix)

    def get(self, run_id: str) -> Run:
        return self.service.get(run_id)

    def list(self, **filters) -> list[Run]:
        return self.service.list(**filters)

    def follow(self, run_id: str, offset: int = 0) -> Iterator[dict]:
        return self.service.follow(run_id, offset)

    def events(self, run_id: str, offset: int = 0) -> tuple[list[dict], int]:
        return self.service.events(run_id, offset)

    def logs(self, run_id: str, stream: str) -> str:
        return self.service.logs(run_id, stream)

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
        src_root = self.service.outputs_dir(run.id)
        limit = self.settings.max_download_size if max_bytes is None else max_bytes
        return download_outputs(run, lambda name, dest: shutil.copyfile(src_root / name, dest), output_dir, limit)

    def download_logs(self, run_id: str, output_dir: Path) -> list[Path]:
        from .runner import layout

        run_dir = self.service.run_dir(run_id)
        out = []
        for name in [layout.log_file(s) for s in layout.STREAMS] + [layout.EVENTS]:
            if (run_dir / name).exists():
                (output_dir / "logs").mkdir(parents=True, exist_ok=True)
                shutil.copyfile(run_dir / name, output_dir / "logs" / name)
                out.append(output_dir / "logs" / name)
        return out


def connect(settings: JobsSettings | None = None):
    """A running Jupyter server's jobs API when one is found (`JUPYTER_JOBS_URL`, or a server whose root
    contains this folder), else the service in this process. `JUPYTER_JOBS_URL=embedded` forces the latter."""
    from .remote import RemoteClient, find_server

    found = find_server()
    return RemoteClient(*found, settings=settings) if found else EmbeddedClient(settings)
