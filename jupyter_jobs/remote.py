"""The client for a Jupyter server running the jupyter_jobs extension: the same methods as `EmbeddedClient`,
over the REST API under `<server>/jobs/`.

Standard library HTTP only (`urllib.request` / `http.client`), so the CLI stays quick to start.
`find_server()` says which server to use: `JUPYTER_JOBS_URL` (+ `JUPYTER_JOBS_TOKEN`), else a running
Jupyter server whose root dir contains the current folder and answers `/jobs/config`.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

from .capture.files import Captured
from .client import DownloadReport, UploadReport, download_outputs, save_chunks, save_logs
from .errors import ConfigError, Conflict, ExecutorError, JobsError, NotFound, SubmitError
from .runner.protocol import EventType
from .service.schemas import CronPreview, ForkRequest, Run, Schedule, ScheduleRequest, SubmitRequest
from .settings import JobsSettings

_CHUNK = 1 << 20
_MISSING_BATCH = 10_000


class _Unreachable(JobsError):
    """The server did not answer (connection refused, reset, timed out)."""

    status = 503


def _error_from(code: int, body: bytes, url: str) -> JobsError:
    try:
        data = json.loads(body)
        message, hint, field = data.get("message") or f"HTTP {code}", data.get("hint"), data.get("field")
    except (ValueError, AttributeError):
        message, hint, field = f"HTTP {code} from {url}", None, None
    if code in (401, 403):
        return JobsError(f"the jobs server refused the request: {message}",
                         hint="set JUPYTER_JOBS_TOKEN to the server's token")
    if code == 404:
        return NotFound(message, hint)
    if code == 409:
        return Conflict(message, hint)
    if code == 422:
        return ConfigError(message, key=field, hint=hint) if field else SubmitError(message, hint)
    if code >= 500:
        error = ExecutorError(message, hint)
        error.status = code
        return error
    error = JobsError(message, hint)
    error.status = code
    return error


class RemoteClient:
    """Talks to the jupyter_jobs server extension; jobs run (and keep running) on the server's side."""

    def __init__(self, url: str, token: str | None = None, settings: JobsSettings | None = None,
                 timeout: float = 30.0):
        self.url = url.rstrip("/") + "/"
        self.token = token or None
        self.timeout = timeout
        self._local_settings = settings
        self._settings: JobsSettings | None = None
        self._config: dict | None = None

    def __repr__(self) -> str:
        return f"RemoteClient({self.url!r})"

    # -- HTTP -------------------------------------------------------------------------------------------
    def _url(self, path: str, params: dict | None = None) -> str:
        url = self.url + "jobs/" + path.lstrip("/")
        if params:
            query = urllib.parse.urlencode([(k, v) for k, v in params.items() if v is not None], doseq=True)
            url += ("?" + query) if query else ""
        return url

    def _open(self, method: str, path: str, *, params: dict | None = None, body=None, data=None,
              headers: dict | None = None, timeout: float | None = None):
        """The raw response (a file-like http.client.HTTPResponse); HTTP errors become JobsErrors."""
        url = self._url(path, params)
        all_headers = {"Accept": "application/json", **(headers or {})}
        if self.token:
            all_headers["Authorization"] = f"token {self.token}"
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        elif data is None and method in ("POST", "PUT", "PATCH"):
            data = b""
        request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
        try:
            return _opener(request.host).open(request, timeout=timeout or self.timeout)
        except urllib.error.HTTPError as err:
            with err:
                raise _error_from(err.code, err.read(), url) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise _Unreachable(f"cannot reach the jobs server at {self.url}: {reason}",
                               hint="is the Jupyter server running? (or unset JUPYTER_JOBS_URL)") from None

    def _json(self, method: str, path: str, **kwargs):
        with self._open(method, path, **kwargs) as response:
            text = response.read()
        return json.loads(text) if text else None

    def _submitting(self, path: str, payload: dict, key: str | None) -> Run:
        """POST a submit or fork with an idempotency key, retrying once if the connection dropped:
        the key makes the retry return the run the first attempt may have made."""
        key = key or uuid.uuid4().hex
        headers = {"Idempotency-Key": key}
        try:
            data = self._json("POST", path, body=payload, headers=headers)
        except _Unreachable:
            data = self._json("POST", path, body=payload, headers=headers)
        return Run.model_validate(data)

    # -- the server -------------------------------------------------------------------------------------
    def server_config(self) -> dict:
        if self._config is None:
            self._config = self._json("GET", "config")
        return self._config

    @property
    def settings(self) -> JobsSettings:
        """Local settings, with the server's upload limits (so inputs are checked before any upload)."""
        if self._settings is None:
            if self._local_settings is not None:
                settings = self._local_settings
            else:
                from .settings import load_settings

                settings = load_settings()
            limits = self.server_config().get("limits", {})
            for key in ("max_file_size", "max_upload_size"):
                if key in limits:
                    setattr(settings, key, limits[key])
            self._settings = settings
        return self._settings

    # -- submitting -------------------------------------------------------------------------------------
    def upload(self, captured: Captured) -> UploadReport:
        report = UploadReport()
        shas = sorted(captured.sources)
        missing: set[str] = set()
        for start in range(0, len(shas), _MISSING_BATCH):
            batch = shas[start:start + _MISSING_BATCH]
            missing.update(self._json("POST", "blobs/missing", body={"sha256": batch})["missing"])
        report.stored_files = len(shas) - len(missing)
        for sha in sorted(missing):
            path = captured.sources[sha]
            size = path.stat().st_size
            with open(path, "rb") as fh:
                self._json("PUT", f"blobs/{sha}", data=fh, timeout=max(self.timeout, 600),
                           headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)})
            report.new_files += 1
            report.new_bytes += size
        return report

    def submit(self, request: SubmitRequest) -> Run:
        return self._submitting("runs", request.model_dump(mode="json"), request.idempotency_key)

    def fork(self, run_id: str, request: ForkRequest) -> Run:
        return self._submitting(f"runs/{_q(run_id)}/fork", request.model_dump(mode="json"),
                                request.idempotency_key)

    # -- reading ----------------------------------------------------------------------------------------
    def resolve_id(self, prefix: str) -> str:
        return self.get(prefix).id

    def get(self, run_id: str) -> Run:
        return Run.model_validate(self._json("GET", f"runs/{_q(run_id)}"))

    def list(self, status: list[str] | None = None, query: str | None = None, limit: int = 100,
             offset: int = 0) -> list[Run]:
        data = self._json("GET", "runs", params={"status": list(status or []), "q": query, "limit": limit,
                                                 "offset": offset})
        return [Run.model_validate(r) for r in data["runs"]]

    def events(self, run_id: str, offset: int = 0) -> tuple[list[dict], int]:
        """The events written so far after byte `offset`, and the offset to continue from."""
        events: list[dict] = []
        while True:
            page = self._json("GET", f"runs/{_q(run_id)}/logs", params={"offset": offset})
            events.extend(page["events"])
            if page["next_offset"] == offset:
                return events, offset
            offset = page["next_offset"]

    def follow(self, run_id: str, offset: int = 0) -> Iterator[dict]:
        """Events as they happen (server-sent events), until the result event. A dropped connection is
        resumed from the last event's id, so nothing is lost or repeated."""
        failures = 0
        while True:
            try:
                response = self._open("GET", f"runs/{_q(run_id)}/events", params={"offset": offset},
                                      headers={"Accept": "text/event-stream"}, timeout=max(self.timeout, 60))
            except _Unreachable:
                failures += 1
                if failures > 5:
                    raise
                import time

                time.sleep(min(0.2 * 2 ** failures, 5))
                continue
            try:
                for event_id, event in _sse(response):
                    failures = 0
                    if event_id is not None:
                        offset = event_id
                    yield event
                    if event.get("type") == EventType.RESULT:
                        return
            except (OSError, ValueError):  # connection reset or cut mid-message: resume
                failures += 1
                if failures > 5:
                    raise _Unreachable(f"lost the event stream of job {run_id}") from None
            finally:
                response.close()

    def logs(self, run_id: str, stream: str) -> str:
        with self._open("GET", f"runs/{_q(run_id)}/logs", params={"stream": stream, "format": "text"},
                        headers={"Accept": "text/plain"}) as response:
            return response.read().decode("utf-8", errors="replace")

    def instance_types(self, executor: str | None = None):
        from .instances import InstanceType

        data = self._json("GET", "instance-types", params={"executor": executor})
        name = executor or data["default_executor"]
        fields = set(InstanceType.model_fields)
        out = []
        for info in data["instance_types"]:
            availability = info["executors"].get(name, {"available": False, "reason": "unknown executor"})
            out.append((InstanceType(**{k: v for k, v in info.items() if k in fields}),
                        None if availability["available"] else availability.get("reason")))
        return out

    # -- changing ---------------------------------------------------------------------------------------
    def cancel(self, run_id: str, graceful: bool = False) -> Run:
        return Run.model_validate(self._json("POST", f"runs/{_q(run_id)}/cancel", body={"graceful": graceful}))

    def set_ttl(self, run_id: str, days: float | None) -> Run:
        return Run.model_validate(self._json("PATCH", f"runs/{_q(run_id)}", body={"ttl_days": days}))

    def delete(self, run_id: str) -> None:
        self._json("DELETE", f"runs/{_q(run_id)}")

    def cleanup(self) -> dict:
        return self._json("POST", "cleanup")

    # -- schedules (the server fires them) --------------------------------------------------------------
    schedule_note: str | None = None

    def create_schedule(self, request: ScheduleRequest) -> Schedule:
        return Schedule.model_validate(self._json("POST", "schedules", body=request.model_dump(mode="json")))

    def schedules(self) -> list[Schedule]:
        return [Schedule.model_validate(s) for s in self._json("GET", "schedules")["schedules"]]

    def schedule(self, schedule_id: str) -> Schedule:
        return Schedule.model_validate(self._json("GET", f"schedules/{_q(schedule_id)}"))

    def resolve_schedule_id(self, prefix: str) -> str:
        return self.schedule(prefix).id

    def pause_schedule(self, schedule_id: str) -> Schedule:
        return Schedule.model_validate(self._json("POST", f"schedules/{_q(schedule_id)}/pause"))

    def resume_schedule(self, schedule_id: str) -> Schedule:
        return Schedule.model_validate(self._json("POST", f"schedules/{_q(schedule_id)}/resume"))

    def delete_schedule(self, schedule_id: str) -> None:
        self._json("DELETE", f"schedules/{_q(schedule_id)}")

    def schedule_runs(self, schedule_id: str) -> list[Run]:
        return [Run.model_validate(r) for r in self._json("GET", f"schedules/{_q(schedule_id)}/runs")["runs"]]

    def cron_preview(self, cron: str, timezone: str = "UTC") -> CronPreview:
        return CronPreview.model_validate(self._json("GET", "schedules/preview",
                                                     params={"cron": cron, "timezone": timezone}))

    # -- secrets (values go in, only names come out) --------------------------------------------------
    def set_secret(self, name: str, value: str) -> None:
        self._open("PUT", f"secrets/{_q(name)}", body={"value": value}).close()

    def secret_names(self) -> list[str]:
        return self._json("GET", "secrets")["names"]

    def delete_secret(self, name: str) -> None:
        self._open("DELETE", f"secrets/{_q(name)}").close()

    # -- results ----------------------------------------------------------------------------------------
    def _chunks(self, path: str, params: dict | None = None) -> Iterator[bytes]:
        """A response body a MB at a time (a long download gets a long timeout)."""
        with self._open("GET", path, params=params, headers={"Accept": "*/*"}, timeout=max(self.timeout, 600)) as r:
            yield from iter(lambda: r.read(_CHUNK), b"")

    def download_outputs(self, run: Run, output_dir: Path | None = None,
                         max_bytes: int | None = None) -> DownloadReport:
        limit = self.settings.max_download_size if max_bytes is None else max_bytes
        return download_outputs(
            run, lambda name, dest: save_chunks(self._chunks(f"runs/{_q(run.id)}/outputs/{_q(name, safe='/')}"), dest),
            output_dir, limit)

    def download_logs(self, run_id: str, output_dir: Path) -> list[Path]:
        def events() -> Iterator[bytes]:
            offset = 0
            while True:
                page = self._json("GET", f"runs/{_q(run_id)}/logs", params={"offset": offset})
                yield "".join(json.dumps(e) + "\n" for e in page["events"]).encode()
                if page["next_offset"] == offset:
                    return
                offset = page["next_offset"]

        return save_logs(output_dir, lambda stream: self._chunks(
            f"runs/{_q(run_id)}/logs", {"stream": stream, "format": "text"}), events())


_DIRECT = None


def _opener(host: str):
    """urllib's default opener, except that a server on this machine is never reached through a proxy."""
    global _DIRECT
    name = host.rsplit(":", 1)[0].strip("[]") if not host.startswith("[") else host[1:host.index("]")]
    if name in ("localhost", "127.0.0.1", "::1") or name.startswith("127."):
        if _DIRECT is None:
            _DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        return _DIRECT
    return urllib.request.build_opener()


def _q(text: str, safe: str = "") -> str:
    return urllib.parse.quote(text, safe=safe)


def _sse(response) -> Iterator[tuple[int | None, dict]]:
    """(id, parsed data) of each server-sent event; comments (keep-alives) and `retry:` are skipped."""
    data: list[str] = []
    event_id: int | None = None
    for raw in response:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield event_id, json.loads("\n".join(data))
            data, event_id = [], None
        elif line.startswith(":"):
            continue
        else:
            key, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if key == "data":
                data.append(value)
            elif key == "id" and value.isdigit():
                event_id = int(value)
    if data:  # the stream ended without the blank line: a cut message
        raise ValueError("event stream cut mid-message")


# -- finding a server ------------------------------------------------------------------------------------------
def _running_servers() -> list[dict]:
    """What `jupyter_server.serverapp.list_running_servers()` returns, read without importing
    jupyter_server (slow): the `jpserver-*.json` runtime files of live processes."""
    from jupyter_core.paths import jupyter_runtime_dir

    servers = []
    for path in sorted(Path(jupyter_runtime_dir()).glob("jpserver-*.json")):
        try:
            info = json.loads(path.read_text())
            pid = int(info["pid"])
            os.kill(pid, 0)
        except PermissionError:  # alive, someone else's
            pass
        except (OSError, ValueError, KeyError, TypeError):
            continue
        servers.append(info)
    return servers


def server_answers(url: str, token: str | None, timeout: float = 2.0) -> bool:
    """True if `url` is a Jupyter server with the jupyter_jobs extension that accepts `token`."""
    try:
        RemoteClient(url, token, timeout=timeout).server_config()
    except JobsError:
        return False
    return True


def find_server(cwd: str | os.PathLike | None = None) -> tuple[str, str | None] | None:
    """(url, token) of the jobs server to use, or None for the embedded service.

    `JUPYTER_JOBS_URL` (+ `JUPYTER_JOBS_TOKEN`) wins; `JUPYTER_JOBS_URL=embedded` turns discovery off.
    Otherwise: the running Jupyter server with the deepest root dir containing `cwd` that answers
    `/jobs/config` with its token.
    """
    url = os.environ.get("JUPYTER_JOBS_URL", "").strip()
    if url.lower() in ("embedded", "none", "off"):
        return None
    if url:
        return url, os.environ.get("JUPYTER_JOBS_TOKEN") or None
    here = Path(cwd or os.getcwd()).resolve()
    candidates = []
    for info in _running_servers():
        root = info.get("root_dir") or info.get("notebook_dir")
        if not root or not info.get("url"):
            continue
        root_path = Path(os.path.expanduser(root)).resolve()
        if here == root_path or here.is_relative_to(root_path):
            candidates.append((len(root_path.parts), info))
    for _, info in sorted(candidates, key=lambda item: -item[0]):
        token = info.get("token") or None
        if server_answers(info["url"], token):
            return info["url"], token
    return None
