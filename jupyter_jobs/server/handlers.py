"""Thin Tornado handlers over the JobsService: runs, logs and live events, outputs, blobs, and the
server's own resources. Service calls that can block run in the app's thread pool."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import tempfile
import time
import zipfile
from pathlib import Path

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import ensure_async
from tornado import web
from tornado.iostream import StreamClosedError

from .._version import __version__
from ..errors import NotFound, SubmitError
from ..runner import layout
from ..service.schemas import ForkRequest, Run, SubmitRequest
from .base import _HEARTBEAT, STATUSES, BadRequest, Invalid, JobsHandler, TooLarge
from .models import (
    SHA256,
    BlobStored,
    CancelRequest,
    CleanupReport,
    EventsPage,
    ExecutorAvailability,
    ExecutorInfo,
    InstanceTypeInfo,
    InstanceTypesResponse,
    Limits,
    MissingBlobsRequest,
    MissingBlobsResponse,
    OutputsManifest,
    RunList,
    SecretNames,
    SecretValue,
    ServerConfig,
    TtlRequest,
)


# -- runs --------------------------------------------------------------------------------------------------
class RunsHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self):
        statuses = [s.strip().upper() for value in self.get_arguments("status") for s in value.split(",")
                    if s.strip()]
        for status in statuses:
            if status not in STATUSES:
                raise Invalid(f"status: {status!r} is not one of {', '.join(STATUSES)}", field="status")
        query = self.get_argument("q", None) or None
        limit = self.int_arg("limit", 100, 1, 1000)
        offset = self.int_arg("offset", 0)
        runs = await self.svc("list", status=statuses or None, query=query, limit=limit, offset=offset)
        self.send(RunList(runs=runs, limit=limit, offset=offset))

    @web.authenticated
    @authorized("execute")
    async def post(self):
        request: SubmitRequest = self.body(SubmitRequest)
        key = self.idempotency_key(request.idempotency_key)
        update: dict = {"idempotency_key": key}
        if request.origin.user is None and self.current_user is not None:
            update["origin"] = request.origin.model_copy(update={"user": self.current_user.username})
        request = request.model_copy(update=update)
        started = time.time()
        run: Run = await self.svc("submit", request)
        replayed = run.created_at < started
        if replayed:
            self.set_header("Idempotent-Replayed", "true")
        self.set_header("Location", self.jobs.api_url(f"runs/{run.id}"))
        self.send(run, 200 if replayed else 201)


class RunHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str):
        self.send(await self.svc("get", run_id))

    @web.authenticated
    @authorized
    async def patch(self, run_id: str):
        request: TtlRequest = self.body(TtlRequest)
        self.send(await self.svc("set_ttl", run_id, request.ttl_days))

    @web.authenticated
    @authorized
    async def delete(self, run_id: str):
        await self.svc("delete", run_id)
        self.set_status(204)
        await self.finish()


class CancelHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def post(self, run_id: str):
        request: CancelRequest = self.body(CancelRequest, allow_empty=True)
        self.send(await self.svc("cancel", run_id, request.graceful, request.reason))


class ForkHandler(JobsHandler):
    @web.authenticated
    @authorized("execute")
    async def post(self, run_id: str):
        request: ForkRequest = self.body(ForkRequest, allow_empty=True)
        request = request.model_copy(update={"idempotency_key": self.idempotency_key(request.idempotency_key)})
        started = time.time()
        run: Run = await self.svc("fork", run_id, request)
        self.set_header("Location", self.jobs.api_url(f"runs/{run.id}"))
        self.send(run, 200 if run.created_at < started else 201)


# -- logs and events -----------------------------------------------------------------------------------------
def read_lines_at(path: Path, offset: int, max_bytes: int = 1 << 20) -> list[tuple[bytes, int]]:
    """Complete event lines (JSON as the runner wrote it) after byte `offset`, each with its end offset."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read(max_bytes)
            if data and b"\n" not in data and len(data) == max_bytes:  # one huge event: take it whole
                fh.seek(offset)
                data = fh.readline()
    except FileNotFoundError:
        return []
    out, pos = [], offset
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break  # the runner is still writing it
        pos += len(line)
        if line.strip():
            out.append((line.rstrip(b"\n"), pos))
    return out


def _is_result(line: bytes) -> bool:
    """The runner writes events with json.dumps' default separators, so a byte test suffices."""
    return b'"type": "result"' in line


class LogsHandler(JobsHandler):
    """A range read: the events after `offset`; `?stream=stdout&format=text` gives that log as text."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str):
        stream = self.get_argument("stream", None) or None
        if stream is not None and stream not in layout.STREAMS:
            raise Invalid(f"stream: {stream!r} is not one of {', '.join(layout.STREAMS)}", field="stream")
        fmt = self.get_argument("format", "json")
        if fmt not in ("json", "text"):
            raise Invalid(f"format: {fmt!r} is not json or text", field="format")
        if fmt == "text":
            if stream is None:
                raise Invalid("format=text needs a stream (stdout, stderr or system)", field="stream")
            text = await self.svc("logs", run_id, stream)
            await self.finish(text.encode("utf-8"), set_content_type="text/plain; charset=utf-8")
            return
        offset = self.int_arg("offset", 0)
        run: Run = await self.svc("get", run_id)
        events, next_offset = await self.svc("events", run.id, offset)
        if stream is not None:
            events = [e for e in events if e.get("type") == "log" and e.get("stream") == stream]
        self.send(EventsPage(events=events, offset=offset, next_offset=next_offset, finished=run.finished))


class EventsHandler(JobsHandler):
    """Live follow as server-sent events: one message per event, `id:` = byte offset to resume from
    (`?offset=` or the `Last-Event-ID` header); the stream ends after the result event."""

    _closed = False

    def on_connection_close(self) -> None:
        self._closed = True

    def _resume_offset(self) -> int:
        last = self.request.headers.get("Last-Event-ID")
        if last:
            try:
                return max(0, int(last))
            except ValueError:
                raise Invalid(f"Last-Event-ID: {last!r} is not an offset", field="Last-Event-ID") from None
        return self.int_arg("offset", 0)

    @web.authenticated
    @authorized
    async def get(self, run_id: str):
        offset = self._resume_offset()
        run: Run = await self.svc("get", run_id)
        events_file = (await self.svc("run_dir", run.id)) / layout.EVENTS
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        try:
            await self._stream(run.id, events_file, offset)
        except StreamClosedError:
            return
        if not self._closed:
            await self.finish(set_content_type="text/event-stream")

    async def _stream(self, run_id: str, events_file: Path, offset: int) -> None:
        self.write("retry: 1000\n\n")
        await self.flush()
        last_write = last_check = time.monotonic()
        delay = 0.02
        while not self._closed:
            # Lines go out as the runner wrote them (already JSON): no parse and re-encode per event.
            batch = await asyncio.to_thread(read_lines_at, events_file, offset, 4 << 20)
            for line, end in batch:
                self.write(b"id: %d\ndata: %s\n\n" % (end, line))
                offset = end
            if batch:
                await self.flush()
                last_write = time.monotonic()
                delay = 0.02
                if any(_is_result(line) for line, _ in batch):
                    return
                continue
            now = time.monotonic()
            if now - last_check > 0.5:
                last_check = now
                run: Run = await self.svc("get", run_id)
                if run.finished:
                    rest = await asyncio.to_thread(read_lines_at, events_file, offset, 1 << 30)
                    for line, end in rest:
                        self.write(b"id: %d\ndata: %s\n\n" % (end, line))
                        offset = end
                    if not any(_is_result(line) for line, _ in rest):
                        result = {"type": "result", "t": time.time(), "status": run.status,
                                  "exit_code": run.exit_code, "error": run.error}
                        self.write(f"id: {offset}\ndata: {json.dumps(result)}\n\n")
                    await self.flush()
                    return
            if now - last_write > _HEARTBEAT:
                self.write(": keepalive\n\n")
                await self.flush()
                last_write = now
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)  # a stat and a read: cheap, and results arrive promptly


# -- outputs -----------------------------------------------------------------------------------------------
def safe_join(root: Path, rel: str) -> Path:
    """`root/rel`, refusing absolute paths, `..` and anything that resolves outside root."""
    if "\x00" in rel or rel.startswith(("/", "\\")) or any(part == ".." for part in re.split(r"[/\\]", rel)):
        raise BadRequest(f"output path {rel!r} is not a relative path inside the outputs",
                         hint="use a path from the outputs manifest")
    real_root = root.resolve()
    target = (root / rel).resolve()
    if not target.is_relative_to(real_root):
        raise NotFound(f"no output {rel!r}")
    if not target.is_file():
        raise NotFound(f"no output file {rel!r}", hint="see the outputs manifest")
    return target


class OutputsHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str):
        run: Run = await self.svc("get", run_id)
        if run.data_deleted:
            raise NotFound(f"job {run.id}'s data expired and was deleted")
        total = sum(f.size for entry in run.outputs for f in entry.files)
        self.send(OutputsManifest(run_id=run.id, status=run.status, data_deleted=run.data_deleted,
                                  total_bytes=total, outputs=run.outputs))


class OutputFileHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str, path: str):
        root: Path = await self.svc("outputs_dir", run_id)
        target = await asyncio.to_thread(safe_join, root, path)
        await self.send_file(target, filename=target.name)


def _zip_outputs(root: Path) -> str:
    fd, tmp = tempfile.mkstemp(prefix="jupyter-jobs-", suffix=".zip")
    os.close(fd)
    real_root = root.resolve()
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            if root.is_dir():
                for path in sorted(root.rglob("*")):
                    if path.is_file() and path.resolve().is_relative_to(real_root):
                        zf.write(path, path.relative_to(root).as_posix())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


class OutputsZipHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str):
        run: Run = await self.svc("get", run_id)
        root: Path = await self.svc("outputs_dir", run.id)
        tmp = await asyncio.to_thread(_zip_outputs, root)
        try:
            await self.send_file(Path(tmp), "application/zip", f"{run.id}-outputs.zip")
        finally:
            os.unlink(tmp)


# -- blobs -----------------------------------------------------------------------------------------------
class _QueueReader:
    """A file-like `read(n)` over chunks put in a queue by the event loop; None ends it."""

    ABORT = object()

    def __init__(self, chunks: queue.Queue):
        self.chunks = chunks
        self.buffer = b""
        self.eof = False

    def read(self, n: int = -1) -> bytes:
        while not self.eof and (n < 0 or len(self.buffer) < n):
            chunk = self.chunks.get()
            if chunk is None:
                self.eof = True
            elif chunk is self.ABORT:
                raise BadRequest("the upload was interrupted")
            else:
                self.buffer += chunk
        if n < 0:
            out, self.buffer = self.buffer, b""
        else:
            out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out


def _check_sha(sha: str) -> None:
    if not re.fullmatch(SHA256, sha):
        raise Invalid(f"{sha[:70]!r} is not a lowercase hex sha256", field="sha256")


@web.stream_request_body
class BlobHandler(JobsHandler):
    """HEAD: is the blob stored? PUT: stream the body into the store, checking its sha256."""

    _chunks: queue.Queue | None = None
    _store: asyncio.Future | None = None
    _discard = False
    _received = 0
    _limit = 0

    async def prepare(self):
        await super().prepare()  # authenticates (403 without a user) before any body is read
        if self.request.method != "PUT":
            return
        if not await ensure_async(self.authorizer.is_authorized(self, self.current_user, "write",
                                                                self.auth_resource)):
            raise web.HTTPError(403, "User is not authorized to write on resource: jobs.")
        sha = self.path_kwargs["sha256"]
        _check_sha(sha)
        self._limit = self.jobs.jobs_settings.max_file_size
        length = self.request.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > self._limit:
            raise TooLarge(f"blob of {int(length)} bytes is over the limit of {self._limit} bytes",
                           hint="ask the operator to raise c.JobsSettings.max_file_size")
        self.request.connection.set_max_body_size(self._limit)
        service = await self.jobs.service()
        if await asyncio.to_thread(service.blobs.has, sha):
            self._discard = True
            return
        self._chunks = queue.Queue(maxsize=16)
        self._store = self.jobs.run_in_pool(service.blobs.put_stream, sha, _QueueReader(self._chunks))

    async def data_received(self, chunk: bytes) -> None:
        self._received += len(chunk)
        if self._chunks is None or self._discard:
            return
        if self._received > self._limit:
            self._abort()
            return
        try:
            self._chunks.put_nowait(chunk)
        except queue.Full:  # back-pressure: the store thread is behind; stop reading the socket meanwhile
            await asyncio.to_thread(self._chunks.put, chunk)

    def _abort(self) -> None:
        """Stop the store thread (it deletes its temp file); what is still queued is dropped."""
        self._discard = True
        if self._chunks is not None and self._store is not None and not self._store.done():
            while True:
                try:
                    self._chunks.get_nowait()
                except queue.Empty:
                    break
            self._chunks.put_nowait(_QueueReader.ABORT)

    def on_connection_close(self) -> None:
        self._abort()

    @web.authenticated
    @authorized
    async def head(self, sha256: str):
        _check_sha(sha256)
        service = await self.jobs.service()
        path = service.blobs.path(sha256)
        try:
            size = (await asyncio.to_thread(path.stat)).st_size
        except FileNotFoundError:
            raise NotFound(f"no blob {sha256[:12]}") from None
        self.set_header("X-Blob-Size", str(size))
        await self.finish()

    @web.authenticated
    @authorized
    async def put(self, sha256: str):
        if self._received > self._limit:
            if self._store is not None:
                await asyncio.gather(self._store, return_exceptions=True)
            raise TooLarge(f"blob is over the limit of {self._limit} bytes",
                           hint="ask the operator to raise c.JobsSettings.max_file_size")
        if self._store is None:  # already stored: nothing written
            self.send(BlobStored(sha256=sha256, size=self._received, stored=False), 200)
            return
        await asyncio.to_thread(self._chunks.put, None)
        await self._store
        self.send(BlobStored(sha256=sha256, size=self._received, stored=True), 201)


class MissingBlobsHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def post(self):
        request: MissingBlobsRequest = self.body(MissingBlobsRequest)
        self.send(MissingBlobsResponse(missing=await self.svc("missing_blobs", request.sha256)))


# -- the server ------------------------------------------------------------------------------------------
class InstanceTypesHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self):
        service = await self.jobs.service()
        wanted = self.get_argument("executor", None) or None
        names = [wanted] if wanted else list(service.executors)
        merged: dict[str, InstanceTypeInfo] = {}
        for name in names:
            try:
                types = await self.svc("instance_types", name)
            except SubmitError as exc:
                raise Invalid(f"executor: {exc.message}", field="executor", hint=exc.hint) from None
            for itype, reason in types:
                info = merged.setdefault(itype.name, InstanceTypeInfo(
                    **itype.model_dump(), summary=itype.summary(), executors={}))
                info.executors[name] = ExecutorAvailability(available=reason is None, reason=reason)
        self.send(InstanceTypesResponse(default_executor=service.default_executor,
                                        instance_types=list(merged.values())))


class ConfigHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self):
        from ..spec.models import DEFAULT_INSTANCE_TYPE

        service = await self.jobs.service()
        settings = self.jobs.jobs_settings
        self.send(ServerConfig(
            version=__version__,
            executors=[ExecutorInfo(name=name, features=sorted(ex.features), default=name == service.default_executor)
                       for name, ex in list(service.executors.items())],
            default_executor=service.default_executor,
            default_instance_type=DEFAULT_INSTANCE_TYPE,
            retention_days=settings.retention_days,
            limits=Limits(max_file_size=settings.max_file_size, max_upload_size=settings.max_upload_size,
                          max_download_size=settings.max_download_size),
        ))


class CleanupHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def post(self):
        self.send(CleanupReport(**await self.svc("cleanup")))


class SecretsHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self):
        store = (await self.jobs.service()).secrets
        self.send(SecretNames(names=await self.jobs.run_in_pool(store.names)))


class SecretHandler(JobsHandler):
    """PUT sets a secret (the value only ever travels in the body), DELETE removes it."""

    @web.authenticated
    @authorized("write")
    async def put(self, name: str):
        request: SecretValue = self.body(SecretValue)
        store = (await self.jobs.service()).secrets
        await self.jobs.run_in_pool(store.set, name, request.value)
        self.set_status(204)
        await self.finish()

    @web.authenticated
    @authorized("write")
    async def delete(self, name: str):
        store = (await self.jobs.service()).secrets
        await self.jobs.run_in_pool(store.delete, name)
        self.set_status(204)
        await self.finish()


class OpenAPIHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self):
        from .openapi import build_openapi
        from .routes import ROUTES

        self.send(build_openapi(ROUTES, base_url=self.base_url))


