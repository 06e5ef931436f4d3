"""The one route table: the app registers it, OpenAPI documents it, the tests walk it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from ..service.schemas import CronPreview, ForkRequest, Run, Schedule, ScheduleList, ScheduleRequest, SubmitRequest
from .base import JobsHandler
from .handlers import (
    BlobHandler,
    CancelHandler,
    CleanupHandler,
    ConfigHandler,
    EventsHandler,
    ForkHandler,
    InstanceTypesHandler,
    LogsHandler,
    MissingBlobsHandler,
    OpenAPIHandler,
    OutputFileHandler,
    OutputsHandler,
    OutputsZipHandler,
    RunHandler,
    RunsHandler,
    SecretHandler,
    SecretsHandler,
)
from .lab import (
    EnvironmentHandler,
    ExportHandler,
    NotebookParametersHandler,
    NotebookRunHandler,
    NotebookScheduleHandler,
    RunParametersHandler,
    SummaryHandler,
)
from .models import (
    BlobStored,
    CancelRequest,
    CleanupReport,
    EventsPage,
    ExportedFile,
    ExportRequest,
    InstanceTypesResponse,
    MissingBlobsRequest,
    MissingBlobsResponse,
    NotebookParameters,
    NotebookRunRequest,
    NotebookScheduleRequest,
    OutputsManifest,
    RunEnvironment,
    RunList,
    RunSummary,
    SecretNames,
    SecretValue,
    ServerConfig,
    TtlRequest,
)
from .schedules import (
    CronPreviewHandler,
    ScheduleHandler,
    SchedulePauseHandler,
    ScheduleResumeHandler,
    ScheduleRunsHandler,
    SchedulesHandler,
)


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
    "schedule_id": (r"[^/]+", "A schedule id (sch-...), or a unique prefix of one."),
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
        "get": Op("Download one output file", media="*/*"),  # its type is guessed from its name
    }),
    Route("/jobs/runs/{run_id}/export", ExportHandler, {
        "post": Op("Copy one output file into the server's root (to open it in Lab)", ExportedFile,
                   body=ExportRequest),
    }),
    Route("/jobs/runs/{run_id}/environment", EnvironmentHandler, {
        "get": Op("The run's environment: Python lock (resolved packages), image, variable names",
                  RunEnvironment),
    }),
    Route("/jobs/runs/{run_id}/summary", SummaryHandler, {
        "get": Op("What the Lab's run panel shows: outputs by the names the CLI uses, a failed cell's traceback",
                  RunSummary),
    }),
    Route("/jobs/runs/{run_id}/parameters", RunParametersHandler, {
        "get": Op("A notebook run's parameters (for a fork): the notebook's, with the values the run used",
                  NotebookParameters),
    }),
    Route("/jobs/notebooks/parameters", NotebookParametersHandler, {
        "get": Op("The parameters of a notebook under the server's root (papermill's inference)",
                  NotebookParameters, query=(("path", "string", "The notebook, relative to the server's root."),)),
    }),
    Route("/jobs/notebooks/run", NotebookRunHandler, {
        "post": Op("Run a notebook under the server's root as a job (as `jupyter jobs run`)", Run, 201,
                   NotebookRunRequest, headers=_IDEMPOTENCY, errors=(400, 403, 404, 409, 422)),
    }),
    # /schedules/preview and /schedules/notebook before /schedules/{schedule_id}: the first match wins.
    Route("/jobs/schedules", SchedulesHandler, {
        "get": Op("List schedules, oldest first", ScheduleList, errors=(403,)),
        "post": Op("Save a job to run on a cron (the job is checked as a submit is)", Schedule, 201,
                   ScheduleRequest, errors=(400, 403, 422)),
    }),
    Route("/jobs/schedules/preview", CronPreviewHandler, {
        "get": Op("A cron expression in words and its next 3 times", CronPreview, query=(
            ("cron", "string", "5 fields: minute hour day-of-month month day-of-week (required)."),
            ("timezone", "string", "IANA time zone (default UTC).")), errors=(400, 403)),
    }),
    Route("/jobs/schedules/notebook", NotebookScheduleHandler, {
        "post": Op("Schedule a notebook under the server's root (as its notebook run builds it)", Schedule, 201,
                   NotebookScheduleRequest, errors=(400, 403, 404, 422)),
    }),
    Route("/jobs/schedules/{schedule_id}", ScheduleHandler, {
        "get": Op("One schedule", Schedule, errors=(403, 404)),
        "delete": Op("Delete a schedule (the runs it fired stay)", None, 204, errors=(403, 404)),
    }),
    Route("/jobs/schedules/{schedule_id}/pause", SchedulePauseHandler, {
        "post": Op("Pause a schedule: no tick fires until it is resumed", Schedule, errors=(403, 404)),
    }),
    Route("/jobs/schedules/{schedule_id}/resume", ScheduleResumeHandler, {
        "post": Op("Resume a schedule from now (ticks while it was paused are not run)", Schedule,
                   errors=(403, 404)),
    }),
    Route("/jobs/schedules/{schedule_id}/runs", ScheduleRunsHandler, {
        "get": Op("The runs a schedule fired, newest first", RunList, errors=(403, 404)),
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
        "get": Op("Instance types, and whether each configured executor can serve them (an engine that "
                  "cannot be asked serves none, with the reason)", InstanceTypesResponse,
                  query=(("executor", "string", "Only this executor (502 when its engine cannot be asked)."),),
                  errors=(403, 422, 502)),
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

__all__ = ["ROUTES", "Route", "Op"]

