"""What every jobs handler shares: Jupyter's auth (`JobsHandler`, resource "jobs"), reading bodies,
sending models, and the one place that maps exceptions to HTTP statuses (`error_payload`)."""

from __future__ import annotations

import asyncio
import json
import mimetypes
import os
import re
import urllib.parse
from collections.abc import Callable
from http.client import responses
from typing import TYPE_CHECKING, Any, BinaryIO, Concatenate, ParamSpec, TypeVar

from jupyter_server.base.handlers import APIHandler
from pydantic import BaseModel, ValidationError
from tornado import web
from tornado.iostream import StreamClosedError

from ..errors import ConfigError, JobsError

if TYPE_CHECKING:
    from ..service.service import JobsService

P = ParamSpec("P")
T = TypeVar("T")

_CHUNK = 1 << 20
#: The largest integer a query argument may be (JSON-safe; far beyond any run count or log size).
MAX_INT = 2**53 - 1
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

    async def call(self, fn: Callable[Concatenate[JobsService, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(service, *args, **kwargs)` in the app's thread pool, once the service has started. `fn` is
        a method named on the class (`JobsService.get`) or a function taking the service first: a typed
        reference, so a wrong name is an AttributeError a linter or type checker sees, not a string."""
        service = await self.jobs.service()
        return await self.jobs.run_in_pool(fn, service, *args, **kwargs)

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

    def int_arg(self, name: str, default: int, lo: int = 0, hi: int = MAX_INT) -> int:
        """A bounded integer query argument: past MAX_INT, SQLite (64-bit) and seek() overflow."""
        text = self.get_argument(name, None)
        if text is None or text == "":
            return default
        try:
            value = int(text)
        except ValueError:
            raise Invalid(f"{name}: {text[:40]!r} is not an integer", field=name) from None
        if not lo <= value <= hi:
            raise Invalid(f"{name}: {text[:40]} is out of range [{lo}, {hi}]", field=name)
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

    @property
    def user_name(self) -> str | None:
        """The Jupyter user's name (recorded as the job's user)."""
        name = getattr(self.current_user, "username", None) or getattr(self.current_user, "name", None)
        return name if isinstance(name, str) else None

    # -- output -----------------------------------------------------------------------------------------
    def send(self, model: BaseModel | dict, status: int = 200) -> None:
        self.set_status(status)
        if isinstance(model, BaseModel):
            self.finish(model.model_dump_json())
        else:
            self.finish(json.dumps(model))

    async def send_file(self, fh: BinaryIO, filename: str, media: str | None = None) -> None:
        """Stream an open file (opened by the caller, e.g. without following symlinks) as an attachment;
        closes it. Control characters and quotes in the name never reach a header; a client that leaves
        before the end is a debug line."""
        media = media or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        try:
            self.set_header("Content-Length", str(os.fstat(fh.fileno()).st_size))
            plain = re.sub(r'[\x00-\x1f\x7f"\\]', "_", filename).encode("ascii", "replace").decode()
            self.set_header("Content-Disposition", f'attachment; filename="{plain}"; '
                                                   f"filename*=UTF-8''{urllib.parse.quote(filename, safe='')}")
            self.set_header("Content-Type", media)
            while chunk := await asyncio.to_thread(fh.read, _CHUNK):
                self.write(chunk)
                await self.flush()
            await self.finish(set_content_type=media)
        except StreamClosedError:  # the client stopped reading (a cancelled download): nothing went wrong here
            self.log.debug("%s %s: the client closed the connection before the download ended",
                           self.request.method, self.request.uri)
        finally:
            fh.close()
