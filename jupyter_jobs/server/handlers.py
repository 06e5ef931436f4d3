"""Thin Tornado handlers over the JobsService: runs, logs and live events, outputs, blobs, and the
server's own resources. Service calls that can block run in the app's thread pool."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import ensure_async
from tornado import web
from tornado.iostream import StreamClosedError

from .._version import __version__
from ..errors import ExecutorError, JobsError, NotFound, SubmitError
from ..runner import protocol
from ..runner.protocol import EventType, Status
from ..service.outputs import check_output_path, open_output
from ..service.rundir import RunDir
from ..service.schemas import ForkRequest, Run, SubmitRequest
from ..service.service import JobsService
from .base import _HEARTBEAT, BadRequest, Invalid, JobsHandler, TooLarge
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
            if status not in Status.__members__:
                raise Invalid(f"status: {status!r} is not one of {', '.join(Status.__members__)}", field="status")
        query = self.get_argument("q", None) or None
        limit = self.int_arg("limit", 100, 1, 1000)
        offset = self.int_arg("offset", 0)
        runs = await self.call(JobsService.list, status=statuses or None, query=query, limit=limit, offset=offset)
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
        run: Run = await self.call(JobsService.submit, request)
        replayed = run.created_at < started
        if replayed:
            self.set_header("Idempotent-Replayed", "true")
        self.set_header("Location", self.jobs.api_url(f"runs/{run.id}"))
        self.send(run, 200 if replayed else 201)


class RunHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str):
        self.send(await self.call(JobsService.get, run_id))

    @web.authenticated
    @authorized
    async def patch(self, run_id: str):
        request: TtlRequest = self.body(TtlRequest)
        self.send(await self.call(JobsService.set_ttl, run_id, request.ttl_days))

    @web.authenticated
    @authorized
    async def delete(self, run_id: str):
        await self.call(JobsService.delete, run_id)
        self.set_status(204)
        await self.finish()


class CancelHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def post(self, run_id: str):
        request: CancelRequest = self.body(CancelRequest, allow_empty=True)
        self.send(await self.call(JobsService.cancel, run_id, request.graceful, request.reason))


class ForkHandler(JobsHandler):
    @web.authenticated
    @authorized("execute")
    async def post(self, run_id: str):
        request: ForkRequest = self.body(ForkRequest, allow_empty=True)
        request = request.model_copy(update={"idempotency_key": self.idempotency_key(request.idempotency_key)})
        started = time.time()
        run: Run = await self.call(JobsService.fork, run_id, request)
        self.set_header("Location", self.jobs.api_url(f"runs/{run.id}"))
        self.send(run, 200 if run.created_at < started else 201)


# -- logs and events -----------------------------------------------------------------------------------------
class LogsHandler(JobsHandler):
    """A range read: the events after `offset`; `?stream=stdout&format=text` gives that log as text."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str):
        stream = self.get_argument("stream", None) or None
        if stream is not None and stream not in protocol.STREAMS:
            raise Invalid(f"stream: {stream!r} is not one of {', '.join(protocol.STREAMS)}", field="stream")
        fmt = self.get_argument("format", "json")
        if fmt not in ("json", "text"):
            raise Invalid(f"format: {fmt!r} is not json or text", field="format")
        if fmt == "text":
            if stream is None:
                raise Invalid("format=text needs a stream (stdout, stderr or system)", field="stream")
            await self._send_text(RunDir(await self.call(JobsService.run_dir, run_id)), stream)
            return
        offset = self.int_arg("offset", 0)
        run: Run = await self.call(JobsService.get, run_id)
        rundir = RunDir(await self.call(JobsService.run_dir, run.id))
        events, next_offset = await asyncio.to_thread(rundir.read_events, offset)
        if stream is not None:
            events = [e for e in events if e["type"] == EventType.LOG and e["stream"] == stream]
        self.send(EventsPage(events=events, offset=offset, next_offset=next_offset, finished=run.finished,
                             skipped=rundir.skipped))

    async def _send_text(self, rundir: RunDir, stream: str) -> None:
        """The stream's text, derived from the events a few MB at a time: never the whole log in memory."""
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        chunks = rundir.log_chunks(stream)
        while (text := await asyncio.to_thread(next, chunks, None)) is not None:
            self.write(text.encode("utf-8", "replace"))
            await self.flush()
        await self.finish()


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
        run: Run = await self.call(JobsService.get, run_id)
        rundir = RunDir(await self.call(JobsService.run_dir, run.id))
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        try:
            await self._stream(run.id, rundir, offset)
        except StreamClosedError:
            return
        if not self._closed:
            await self.finish(set_content_type="text/event-stream")

    def _send(self, lines: list[tuple[bytes, dict, int]]) -> bool:
        """Write well-formed lines as the runner wrote them (JSON without raw newlines: one `data:`
        line each); whether the result event was among them."""
        for line, event, end in lines:
            if b"\r" in line:  # JSON whitespace, but a line break to an event stream: encode it again
                line = json.dumps(event).encode()
            self.write(b"id: %d\ndata: %s\n\n" % (end, line))
        return any(e["type"] == EventType.RESULT for _, e, _ in lines)

    async def _stream(self, run_id: str, rundir: RunDir, offset: int) -> None:
        self.write("retry: 1000\n\n")
        await self.flush()
        last_write = last_check = time.monotonic()
        delay = 0.02
        while not self._closed:
            # Lines are checked (malformed ones skipped) but go out as the runner wrote them.
            batch, next_offset = await asyncio.to_thread(rundir.event_lines, offset, 4 << 20)
            ended = self._send(batch)
            if next_offset != offset:
                offset = next_offset
                await self.flush()
                last_write = time.monotonic()
                delay = 0.02
                if ended:
                    return
                continue
            now = time.monotonic()
            if now - last_check > 0.5:
                last_check = now
                run: Run = await self.call(JobsService.get, run_id)
                if run.finished:
                    ended = False
                    while True:  # what the runner wrote before it ended, a few MB at a time
                        rest, next_offset = await asyncio.to_thread(rundir.event_lines, offset, 4 << 20)
                        ended = self._send(rest) or ended
                        if next_offset == offset:
                            break
                        offset = next_offset
                        await self.flush()
                    if not ended:
                        result = {"type": EventType.RESULT, "t": time.time(), "status": run.status,
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
class OutputsHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str):
        run: Run = await self.call(JobsService.get, run_id)
        if run.data_deleted:
            raise NotFound(f"job {run.id}'s data expired and was deleted")
        total = sum(f.size for entry in run.outputs for f in entry.files)
        self.send(OutputsManifest(run_id=run.id, status=run.status, data_deleted=run.data_deleted,
                                  total_bytes=total, outputs=run.outputs))


class OutputFileHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str, path: str):
        try:
            check_output_path(path)
        except JobsError as exc:
            raise BadRequest(exc.message, hint=exc.hint) from None
        root: Path = await self.call(JobsService.outputs_dir, run_id)
        fh = await asyncio.to_thread(open_output, root, path)
        await self.send_file(fh, path.rsplit("/", 1)[-1])


def _zip_outputs(root: Path, run: Run) -> str:
    """The run's manifest as a zip in a temporary file; each file opened without following symlinks
    (one replaced since the manifest was made is left out)."""
    fd, tmp = tempfile.mkstemp(prefix="jupyter-jobs-", suffix=".zip")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            for f in sorted({f.path for entry in run.outputs for f in entry.files}):
                try:
                    src = open_output(root, f)
                except JobsError:
                    continue
                with src, zf.open(f, "w", force_zip64=True) as dest:
                    shutil.copyfileobj(src, dest, 1 << 20)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


class OutputsZipHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str):
        run: Run = await self.call(JobsService.get, run_id)
        root: Path = await self.call(JobsService.outputs_dir, run.id)
        tmp = await asyncio.to_thread(_zip_outputs, root, run)
        try:
            fh = open(tmp, "rb")
        finally:
            os.unlink(tmp)  # the open file stays readable
        await self.send_file(fh, f"{run.id}-outputs.zip", "application/zip")


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
        self.send(MissingBlobsResponse(missing=await self.call(JobsService.missing_blobs, request.sha256)))


# -- the server ------------------------------------------------------------------------------------------
def configured_executors(service: JobsService, settings) -> list[str]:
    """The executors the operator configured (`c.JobsSettings.executors`), the default first; not those
    built since because a submit or a stored run named them."""
    return [name for name in service.executors if name in settings.executors] or [service.default_executor]


class InstanceTypesHandler(JobsHandler):
    """Every instance type and, per executor, whether it can serve it. Without `executor` it asks each
    configured one; an engine that cannot be asked serves nothing, with the reason, so one unreachable
    cluster does not hide what the others serve."""

    @web.authenticated
    @authorized
    async def get(self):
        service = await self.jobs.service()
        wanted = self.get_argument("executor", None) or None
        names = [wanted] if wanted else configured_executors(service, self.jobs.jobs_settings)
        served: dict[str, dict[str, ExecutorAvailability]] = {t.name: {} for t in service.catalogue}
        for name in names:
            try:
                types = await self.call(JobsService.instance_types, name)
            except SubmitError as exc:
                raise Invalid(f"executor: {exc.message}", field="executor", hint=exc.hint) from None
            except ExecutorError as exc:
                if wanted:
                    raise
                types = [(itype, exc.message) for itype in service.catalogue]
            for itype, reason in types:
                served[itype.name][name] = ExecutorAvailability(available=reason is None, reason=reason)
        self.send(InstanceTypesResponse(default_executor=service.default_executor, instance_types=[
            InstanceTypeInfo(**itype.model_dump(), summary=itype.summary(), executors=served[itype.name])
            for itype in service.catalogue]))


class ConfigHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self):
        from ..spec.models import DEFAULT_INSTANCE_TYPE

        service = await self.jobs.service()
        settings = self.jobs.jobs_settings
        self.send(ServerConfig(
            version=__version__,
            executors=[ExecutorInfo(name=name, features=sorted(service.executors[name].features),
                                    default=name == service.default_executor)
                       for name in configured_executors(service, settings)],
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
        self.send(CleanupReport(**await self.call(JobsService.cleanup)))


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
        self.send(self.jobs.openapi(self.base_url))


