"""Thin Tornado handlers over the JobsService, and the one route table the app and OpenAPI share.

Every handler derives from `JobsHandler` (Jupyter's `APIHandler`, `auth_resource = "jobs"`), every method
is `@web.authenticated` + `@authorized`, and `JobsHandler.write_error` is the one place that turns an
exception into an HTTP status and a JSON body `{"message", "hint", "field"}`.
Service calls that can block (database, file system, process start) run in the app's thread pool.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import os
import queue
import re
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from http.client import responses
from pathlib import Path
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import ensure_async
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from tornado import web
from tornado.iostream import StreamClosedError

from .._version import __version__
from ..errors import ConfigError, JobsError, NotFound, SubmitError
from ..runner import layout
from ..service.schemas import ForkRequest, Run, SubmitRequest
from .models import (
    SHA256,
    BlobStored,
    CancelRequest,
    CleanupReport,
    ErrorBody,
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

STATUSES = ("QUEUED", "PREPARING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "LOST")
_CHUNK = 1 << 20
_HEARTBEAT = 15.0


# -- errors: the one place that maps exceptions to HTTP -----------------------------------------------
class BadRequest(JobsError):
    """The request itself is unreadable (malformed JSON, no body)."""

    status = 400


class Invalid(JobsError):
    """A field of the request has a wrong value or type."""

    status = 422

    def __init__(self, message: str, field: str | None = None, hint: str | None = None):
        super().__init__(message, hint)
        self.field = field


class TooLarge(JobsError):
    status = 413


def error_payload(exc: BaseException | None, status: int) -> tuple[int, dict]:
    """(status, body) for any exception a handler raised; a client mistake is never a 500."""
    if isinstance(exc, ValidationError):
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
                  for e in exc.errors(include_url=False)]
        first = errors[0] if errors else {"field": None, "message": str(exc)}
        where = f"{first['field']}: " if first["field"] else ""
        return 422, {"message": f"{where}{first['message']}", "hint": None, "field": first["field"] or None,
                     "errors": errors}
    if isinstance(exc, JobsError):
        field_ = getattr(exc, "field", None) or (exc.key if isinstance(exc, ConfigError) else None)
        message = exc.message
        if isinstance(exc, ConfigError) and (exc.source or exc.line):  # keep "file:line" in the message
            message = str(ConfigError(exc.message, key=exc.key, line=exc.line, source=exc.source))
        return exc.status, {"message": message, "hint": exc.hint, "field": field_}
    if isinstance(exc, web.HTTPError):
        return exc.status_code, {"message": exc.log_message or exc.reason or responses.get(exc.status_code, "error"),
                                 "hint": None, "field": None}
    if exc is not None:
        return 500, {"message": f"internal error: {type(exc).__name__}", "hint": "see the server log",
                     "field": None}
    return status, {"message": responses.get(status, "error"), "hint": None, "field": None}


class JobsHandler(APIHandler):
    auth_resource = "jobs"

    @property
    def jobs(self):
        """The JobsApp extension (it registers itself in the web app's settings under its name)."""
        return self.settings["jupyter_jobs"]

    async def svc(self, method: str, *args, **kwargs):
        """Call a JobsService method in the app's thread pool."""
        return await self.jobs.call(method, *args, **kwargs)

    # -- errors -----------------------------------------------------------------------------------------
    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        status, body = error_payload(exc, status_code)
        self.set_status(status)
        self.clear_header("Content-Disposition")
        self.finish(json.dumps({k: v for k, v in body.items() if v is not None or k in ("hint", "field")}))

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, (JobsError, ValidationError)) and error_payload(value, 500)[0] < 500:
            self.log.info("%s %s -> %s", self.request.method, self.request.uri, value)
            return
        super().log_exception(typ, value, tb)

    # -- input ------------------------------------------------------------------------------------------
    def body(self, model: type[BaseModel], allow_empty: bool = False):
        raw = self.request.body or b""
        if not raw.strip():
            if not allow_empty:
                raise BadRequest("the request has no body", hint=f"send a JSON {model.__name__}")
            return model.model_validate({})
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"malformed JSON: {exc}", hint=f"send a JSON {model.__name__}") from None
        if not isinstance(data, dict):
            raise Invalid(f"the body must be a JSON object ({model.__name__}), not {type(data).__name__}")
        return model.model_validate(data)

    def int_arg(self, name: str, default: int, lo: int = 0, hi: int | None = None) -> int:
        text = self.get_argument(name, None)
        if text is None or text == "":
            return default
        try:
            value = int(text)
        except ValueError:
            raise Invalid(f"{name}: {text!r} is not an integer", field=name) from None
        if value < lo or (hi is not None and value > hi):
            raise Invalid(f"{name}: {value} is out of range [{lo}, {hi if hi is not None else '...'}]",
                          field=name)
        return value

    def idempotency_key(self, in_body: str | None) -> str | None:
        header = self.request.headers.get("Idempotency-Key")
        if header is None:
            return in_body
        header = header.strip()
        if not header or len(header) > 128:
            raise Invalid("Idempotency-Key header: 1 to 128 characters", field="Idempotency-Key")
        if in_body and in_body != header:
            raise Invalid("the Idempotency-Key header and the body's idempotency_key differ",
                          field="idempotency_key")
        return header

    # -- output -----------------------------------------------------------------------------------------
    def send(self, model: BaseModel | dict, status: int = 200) -> None:
        self.set_status(status)
        if isinstance(model, BaseModel):
            self.finish(model.model_dump_json())
        else:
            self.finish(json.dumps(model))

    async def send_file(self, path: Path, media: str | None = None, filename: str | None = None) -> None:
        media = media or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        size = path.stat().st_size
        self.set_header("Content-Length", str(size))
        if filename:
            safe = filename.replace('"', "")
            self.set_header("Content-Disposition", f'attachment; filename="{safe}"')
        self.set_header("Content-Type", media)
        fh = await asyncio.to_thread(open, path, "rb")
        try:
            while chunk := await asyncio.to_thread(fh.read, _CHUNK):
                self.write(chunk)
                await self.flush()
        finally:
            fh.close()
        await self.finish(set_content_type=media)


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

        self.send(build_openapi(ROUTES, base_url=self.base_url))


# -- for the Lab UI: notebooks under the server root, outputs opened there, a run's environment --------------
class NotebookParameter(BaseModel):
    name: str
    type: str = Field(description="papermill's type from the annotation, else the default literal's "
                                  "(int, float, str, bool, list, dict); None when it cannot tell.")
    default: str = Field(description="The default as written in the `parameters` cell (Python source).")
    value: Any = Field(default=None, description="The default as JSON, when it is a plain literal.")
    help: str = ""


class NotebookParameters(BaseModel):
    path: str
    has_parameters_cell: bool
    parameters: list[NotebookParameter]


class NotebookRunRequest(BaseModel):
    """`jupyter jobs run NOTEBOOK -p ...` as data, for a notebook under the server's root."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, description="The notebook, relative to the server's root.")
    parameters: dict[str, Any] = Field(default_factory=dict)
    instance_type: str | None = None
    name: str | None = Field(default=None, max_length=200)
    executor: str | None = None
    idempotency_key: str | None = Field(default=None, max_length=128)


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, description="An output file's path from the outputs manifest.")


class ExportedFile(BaseModel):
    path: str = Field(description="Where the file now is, relative to the server's root (open it in Lab).")
    size: int


class RunEnvironment(BaseModel):
    """The run's environment as submitted: the Python lock (resolved packages) and the container image."""

    run_id: str
    kind: str = Field(description="python (a detected/locked environment), docker, or plain.")
    python: str | None = None
    requirements: list[str] = Field(default_factory=list)
    constraints: list[str] = Field(default_factory=list)
    docker_image: str | None = None
    env_vars: list[str] = Field(default_factory=list, description="Names of the job's environment variables.")
    unresolved: dict[str, list[str]] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)


def under_root(root: str | os.PathLike, rel: str, what: str = "path") -> Path:
    """`root/rel` for a contents-API path; refuses absolute paths, `..` and what resolves outside root."""
    rel = rel.strip().lstrip("/")
    if "\x00" in rel or not rel or any(part == ".." for part in re.split(r"[/\\]", rel)):
        raise Invalid(f"{what}: {rel!r} is not a path inside the server's root", field=what)
    real_root = Path(root).resolve()
    target = (real_root / rel).resolve()
    if not target.is_relative_to(real_root):
        raise Invalid(f"{what}: {rel!r} is outside the server's root", field=what)
    return target


def _literal(source: str) -> Any:
    import ast

    try:
        value = ast.literal_eval(source)
        json.dumps(value)
        return value
    except Exception:  # an expression, or not JSON-able: the form shows the source
        return None


def _inspect_notebook(path: Path, rel: str) -> NotebookParameters:
    from ..notebook.build import notebook_parameters

    if not path.is_file():
        raise NotFound(f"notebook {rel} not found")
    try:
        from papermill.iorw import load_notebook_node

        nb = load_notebook_node(str(path))
    except Exception as exc:
        raise Invalid(f"path: {rel} is not a notebook: {exc}", field="path") from None
    has_cell = any("parameters" in cell.get("metadata", {}).get("tags", []) for cell in nb.cells)
    params = []
    for p in notebook_parameters(nb):
        value = _literal(p.default)
        kind = p.inferred_type_name
        if kind in (None, "", "None") and value is not None:  # no annotation: the default's type
            kind = type(value).__name__
        params.append(NotebookParameter(name=p.name, type=kind or "None", default=p.default, value=value,
                                        help=p.help or ""))
    return NotebookParameters(path=rel, has_parameters_cell=has_cell, parameters=params)


def _submit_notebook(service, settings, path: Path, request: NotebookRunRequest, user: str | None,
                     key: str | None) -> Run:
    """What `jupyter jobs run` does, in the server: detect, upload into the store, submit."""
    import socket

    from ..notebook.build import Options, prepare_notebook, staging_output
    from ..service.schemas import Origin

    if key:
        existing = service._by_key(key)
        if existing:
            return existing
    if not path.is_file():
        raise NotFound(f"notebook {request.path} not found")
    options = Options(name=request.name or None, instance=request.instance_type or None,
                      executor=request.executor or None)
    prepared = prepare_notebook(path, request.parameters, options, settings, staging_output(path))
    try:
        captured = prepared.captured
        for sha in service.missing_blobs(captured.sources):
            service.blobs.put_file(captured.sources[sha], sha)
        origin = Origin(base_dir=str(prepared.base_dir), source=str(path), host=socket.gethostname(), user=user)
        return service.submit(SubmitRequest(spec=prepared.spec, bundle=captured.bundle, origin=origin,
                                            executor=request.executor or None, idempotency_key=key))
    finally:
        prepared.cleanup()


def _export_output(service, root: str, run_id: str, rel: str) -> ExportedFile:
    """Copy one output file into the server's root: the executed notebook next to its source as
    `NAME-RUNID.ipynb`, other files to their declared place (as the CLI brings them back) when that is
    inside the root, else under `jobs-outputs/RUNID/`."""
    import shutil

    from ..notebook.build import NOTEBOOK_VAR, default_output
    from ..spec.bundle import local_path

    run: Run = service.get(run_id)
    if run.data_deleted:
        raise NotFound(f"job {run.id}'s data expired and was deleted")
    src = safe_join(service.outputs_dir(run.id), rel)
    real_root = Path(root).resolve()
    dest: Path | None = None
    for entry in run.outputs:
        if not any(f.path == rel for f in entry.files):
            continue
        if entry.src.startswith(f"_outputs/{NOTEBOOK_VAR}") and run.origin.source:
            dest = default_output(run.origin.source, run.id)
        elif run.origin.base_dir:
            within = rel[len(entry.src):].lstrip("/")
            target = local_path(entry.name, run.origin.base_dir)
            dest = (target / within) if within else target
        break
    if dest is None or not dest.resolve().is_relative_to(real_root):
        dest = real_root / "jobs-outputs" / run.id / rel
    dest = dest.resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return ExportedFile(path=dest.relative_to(real_root).as_posix(), size=dest.stat().st_size)


def _environment(service, run_id: str) -> RunEnvironment:
    row = service._row(service.resolve_id(run_id))
    spec = row.spec or {}
    env = spec.get("env") or {}
    lock = (row.bundle or {}).get("python") or {}
    docker = (env.get("docker") or {}).get("image") if isinstance(env.get("docker"), dict) else None
    kind = "python" if lock else "docker" if docker else "plain"
    return RunEnvironment(run_id=row.id, kind=kind, python=lock.get("python"),
                          requirements=list(lock.get("requirements") or []),
                          constraints=list(lock.get("constraints") or []), docker_image=docker,
                          env_vars=sorted((env.get("vars") or {}).keys()),
                          unresolved=dict(lock.get("unresolved") or {}), warnings=list(lock.get("warnings") or []))


class NotebookParametersHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self):
        rel = self.get_argument("path", "")
        path = under_root(self.jobs.serverapp.root_dir, rel)
        self.send(await self.jobs.run_in_pool(_inspect_notebook, path, rel.strip().lstrip("/")))


class NotebookRunHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def post(self):
        request: NotebookRunRequest = self.body(NotebookRunRequest)
        key = self.idempotency_key(request.idempotency_key)
        path = under_root(self.jobs.serverapp.root_dir, request.path)
        user = getattr(self.current_user, "username", None) or getattr(self.current_user, "name", None)
        service = await self.jobs.service()
        run = await self.jobs.run_in_pool(_submit_notebook, service, self.jobs.jobs_settings, path, request,
                                          user if isinstance(user, str) else None, key)
        self.send(run, 201)


class ExportHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def post(self, run_id: str):
        request: ExportRequest = self.body(ExportRequest)
        service = await self.jobs.service()
        self.send(await self.jobs.run_in_pool(_export_output, service, self.jobs.serverapp.root_dir, run_id,
                                              request.path))


class EnvironmentHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str):
        service = await self.jobs.service()
        self.send(await self.jobs.run_in_pool(_environment, service, run_id))


# -- the route table: the app registers it, OpenAPI documents it, the tests walk it ----------------------------
@dataclass(frozen=True)
class Op:
    summary: str
    response: Any = None  # a pydantic model, or None for no body
    status: int = 200
    body: type[BaseModel] | str | None = None  # a model, or a media type for a raw body
    body_required: bool = True
    query: tuple[tuple[str, str, str], ...] = ()  # (name, JSON type, description)
    headers: tuple[tuple[str, str], ...] = ()  # request headers: (name, description)
    media: str = "application/json"  # of the response
    errors: tuple[int, ...] = (400, 403, 404, 422)


PARAMS = {
    "run_id": (r"[^/]+", "A run id, or a unique prefix of one."),
    "path": (r".+", "A file path from the outputs manifest (relative to the run's outputs)."),
    "sha256": (r"[^/]+", "The blob's sha256, lowercase hex."),
    "name": (r"[^/]+", "A secret's name (it becomes the job's environment variable)."),
}


@dataclass(frozen=True)
class Route:
    path: str  # OpenAPI style, below the server's base_url: "/jobs/runs/{run_id}"
    handler: type[JobsHandler]
    ops: dict[str, Op] = field(default_factory=dict)

    @property
    def params(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.path)

    @property
    def pattern(self) -> str:
        """The Tornado URL pattern (named groups become the handler's keyword arguments)."""
        out, pos = "", 0
        for m in re.finditer(r"\{(\w+)\}", self.path):
            out += re.escape(self.path[pos:m.start()]) + f"(?P<{m.group(1)}>{PARAMS[m.group(1)][0]})"
            pos = m.end()
        return out + re.escape(self.path[pos:])


_IDEMPOTENCY = (("Idempotency-Key", "A retried request with the same key returns the first run (200)."),)

ROUTES: list[Route] = [
    Route("/jobs/runs", RunsHandler, {
        "get": Op("List runs, newest first", RunList, query=(
            ("status", "string", "Only runs in these statuses (repeat, or comma-separated)."),
            ("q", "string", "Substring of the name, id or description."),
            ("limit", "integer", "At most this many (1-1000, default 100)."),
            ("offset", "integer", "Skip this many."))),
        "post": Op("Submit a job", Run, 201, SubmitRequest, headers=_IDEMPOTENCY, errors=(400, 403, 409, 422)),
    }),
    Route("/jobs/runs/{run_id}", RunHandler, {
        "get": Op("One run", Run),
        "patch": Op("Set how long the run's data is kept", Run, body=TtlRequest),
        "delete": Op("Delete a finished run and its data", None, 204, errors=(403, 404, 409)),
    }),
    Route("/jobs/runs/{run_id}/cancel", CancelHandler, {
        "post": Op("Cancel a run (graceful: signal first, then wait)", Run, body=CancelRequest,
                   body_required=False),
    }),
    Route("/jobs/runs/{run_id}/fork", ForkHandler, {
        "post": Op("Run again with changes", Run, 201, ForkRequest, body_required=False, headers=_IDEMPOTENCY),
    }),
    Route("/jobs/runs/{run_id}/logs", LogsHandler, {
        "get": Op("Range read of the run's events, or one log stream as text", EventsPage, query=(
            ("offset", "integer", "Byte offset in events.jsonl to read from (next_offset of the last page)."),
            ("stream", "string", "Only log events of this stream: stdout, stderr or system."),
            ("format", "string", "json (events, default) or text (the stream's log file)."))),
    }),
    Route("/jobs/runs/{run_id}/events", EventsHandler, {
        "get": Op("Follow the run live (server-sent events; ends after the result event)",
                  media="text/event-stream",
                  query=(("offset", "integer", "Byte offset to resume from (see each message's id)."),),
                  headers=(("Last-Event-ID", "Resume after this message id (a byte offset)."),)),
    }),
    Route("/jobs/runs/{run_id}/outputs", OutputsHandler, {
        "get": Op("The run's output manifest", OutputsManifest),
    }),
    Route("/jobs/runs/{run_id}/outputs.zip", OutputsZipHandler, {
        "get": Op("All outputs as one zip", media="application/zip"),
    }),
    Route("/jobs/runs/{run_id}/outputs/{path}", OutputFileHandler, {
        "get": Op("Download one output file", media="application/octet-stream"),
    }),
    Route("/jobs/runs/{run_id}/export", ExportHandler, {
        "post": Op("Copy one output file into the server's root (to open it in Lab)", ExportedFile,
                   body=ExportRequest),
    }),
    Route("/jobs/runs/{run_id}/environment", EnvironmentHandler, {
        "get": Op("The run's environment: Python lock (resolved packages), image, variable names",
                  RunEnvironment),
    }),
    Route("/jobs/notebooks/parameters", NotebookParametersHandler, {
        "get": Op("The parameters of a notebook under the server's root (papermill's inference)",
                  NotebookParameters, query=(("path", "string", "The notebook, relative to the server's root."),)),
    }),
    Route("/jobs/notebooks/run", NotebookRunHandler, {
        "post": Op("Run a notebook under the server's root as a job (as `jupyter jobs run`)", Run, 201,
                   NotebookRunRequest, headers=_IDEMPOTENCY, errors=(400, 403, 404, 409, 422)),
    }),
    Route("/jobs/blobs/missing", MissingBlobsHandler, {
        "post": Op("Which of these blobs the server lacks (upload only those)", MissingBlobsResponse,
                   body=MissingBlobsRequest),
    }),
    Route("/jobs/blobs/{sha256}", BlobHandler, {
        "head": Op("Is this blob stored? (200 / 404)", media="", errors=(403, 404, 422)),
        "put": Op("Upload a blob; its sha256 is checked", BlobStored, 201, "application/octet-stream",
                  errors=(400, 403, 413, 422)),
    }),
    Route("/jobs/instance-types", InstanceTypesHandler, {
        "get": Op("Instance types, and whether each executor can serve them", InstanceTypesResponse,
                  query=(("executor", "string", "Only this executor."),)),
    }),
    Route("/jobs/config", ConfigHandler, {
        "get": Op("Executors, their features, defaults and limits", ServerConfig, errors=(403,)),
    }),
    Route("/jobs/cleanup", CleanupHandler, {
        "post": Op("Delete expired run data and unreferenced blobs now", CleanupReport, errors=(403,)),
    }),
    Route("/jobs/secrets", SecretsHandler, {
        "get": Op("Secret names (values are never returned)", SecretNames, errors=(403,)),
    }),
    Route("/jobs/secrets/{name}", SecretHandler, {
        "put": Op("Create or replace a secret", None, 204, SecretValue, errors=(400, 403, 422)),
        "delete": Op("Delete a secret", None, 204, errors=(403, 404)),
    }),
    Route("/jobs/openapi.json", OpenAPIHandler, {
        "get": Op("This API's OpenAPI document", errors=(403,)),
    }),
]

__all__ = ["ROUTES", "Route", "Op", "JobsHandler", "error_payload", "ErrorBody"]
