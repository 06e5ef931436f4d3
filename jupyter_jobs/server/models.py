"""Request and response bodies of the REST API that are not service models (those live in
`jupyter_jobs.service.schemas`). All are pydantic, so OpenAPI and validation come from one place."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..service.schemas import OutputEntry, ParametersRequest, Run, ScheduleTiming
from ..spec.bundle import SHA256, Sha256  # noqa: F401  (SHA256: the handlers check path parameters)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CancelRequest(_Body):
    graceful: bool = False
    reason: str | None = Field(default=None, max_length=500)


class TtlRequest(_Body):
    """How long a run's logs and outputs are kept, in days from its creation; null keeps them forever."""

    ttl_days: float | None = Field(ge=0)


class MissingBlobsRequest(_Body):
    sha256: list[Sha256] = Field(max_length=200_000)


class MissingBlobsResponse(BaseModel):
    missing: list[str]


class BlobStored(BaseModel):
    sha256: str
    size: int
    stored: bool = Field(description="False when the store already held this blob (nothing written).")


class RunList(BaseModel):
    runs: list[Run]
    limit: int
    offset: int


class EventsPage(BaseModel):
    """A range read of a run's events.jsonl: complete events after byte `offset`."""

    events: list[dict[str, Any]]
    offset: int = Field(description="The byte offset the read started at.")
    next_offset: int = Field(description="Pass this as `offset` to read on.")
    finished: bool = Field(description="True once the run has ended (no more events will come).")
    skipped: int = Field(0, description="Malformed lines of events.jsonl passed over in this read.")


class OutputsManifest(BaseModel):
    run_id: str
    status: str
    data_deleted: bool
    total_bytes: int
    outputs: list[OutputEntry]


class ExecutorAvailability(BaseModel):
    available: bool
    reason: str | None = None


class InstanceTypeInfo(BaseModel):
    name: str
    family: str
    cpus: float
    memory_gb: float
    gpus: float
    gpu_kind: str | None = None
    vram_gb: float | None = None
    flexible: bool = False
    summary: str
    executors: dict[str, ExecutorAvailability] = Field(description="Executor name -> whether it can serve this "
                                                                   "type (the one asked, else every configured one).")


class InstanceTypesResponse(BaseModel):
    default_executor: str
    instance_types: list[InstanceTypeInfo]


class ExecutorInfo(BaseModel):
    name: str
    features: list[str]
    default: bool


class Limits(BaseModel):
    max_file_size: int
    max_upload_size: int
    max_download_size: int


class ServerConfig(BaseModel):
    """What a client or the Lab UI needs to know about this server. Never secrets or paths."""

    version: str
    api: str = "jobs"
    executors: list[ExecutorInfo] = Field(description="The configured executors (c.JobsSettings.executors), "
                                                      "the default first: the choices of a run's executor.")
    default_executor: str
    default_instance_type: str
    retention_days: float
    limits: Limits


class SecretValue(_Body):
    """A secret's value: it goes in, and no answer ever carries it back."""

    value: str = Field(min_length=1)


class SecretNames(BaseModel):
    names: list[str]


class CleanupReport(BaseModel):
    runs: int
    blob_bytes: int


class ErrorBody(BaseModel):
    """Every error answer, whatever the status."""

    message: str
    hint: str | None = None
    field: str | None = Field(default=None, description="Dotted path of the offending field, if one.")
    errors: list[dict[str, Any]] | None = Field(default=None, description="All validation problems.")


# -- for the Lab UI (server/lab.py) ----------------------------------------------------------------------
class NotebookParameter(BaseModel):
    name: str
    type: str = Field(description="papermill's type from the annotation, else the default literal's "
                                  "(int, float, str, bool, list, dict); None when it cannot tell.")
    default: str = Field(description="The default as written in the `parameters` cell (Python source).")
    value: Any = Field(default=None, description="The default as JSON, when it is a plain literal; for a run, "
                                                 "the value the run used.")
    help: str = ""


class NotebookParameters(BaseModel):
    path: str
    has_parameters_cell: bool
    parameters: list[NotebookParameter]


class NotebookJob(ParametersRequest):
    """A notebook under the server's root as a job (`parameters` as JSON values, `typed_parameters` as a
    form's typed text)."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, description="The notebook, relative to the server's root.")
    instance_type: str | None = None
    name: str | None = Field(default=None, max_length=200)
    executor: str | None = None


class NotebookRunRequest(NotebookJob):
    """`jupyter jobs run NOTEBOOK -p ...` as data."""

    idempotency_key: str | None = Field(default=None, min_length=1, max_length=128)


class NotebookScheduleRequest(NotebookJob):
    """`jupyter jobs schedule create --notebook NOTEBOOK -p ... --cron ...` as data (the Lab's "Schedule...")."""

    timing: ScheduleTiming


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, description="An output file's path from the outputs manifest.")
    dest: str | None = Field(default=None, min_length=1, description=(
        "Where to put it, relative to the server's root, used as given; default: where the CLI brings it back "
        "(the executed notebook under its one name), inside the root, else jobs-outputs/RUNID/."))


class ShownOutput(BaseModel):
    """One output file as the user knows it: the executed notebook under its one name, never the run
    directory's internal folders."""

    name: str = Field(description="What to call it: the executed notebook's name, else its output path.")
    path: str = Field(description="Its path in the outputs manifest (download, export).")
    size: int
    executed_notebook: bool = False


class RunSummary(BaseModel):
    """What the Lab's run panel shows beyond the Run: outputs by the names the CLI uses, and a failed
    notebook's or cell's traceback as papermill states it."""

    run_id: str
    executed_notebook: str | None = Field(default=None, description=(
        "Where a notebook run's executed notebook comes back (`Run.executed_notebook` of the Python API, what "
        "`run` and `get` show): relative to the server's root when inside it."))
    outputs: list[ShownOutput] = Field(default_factory=list)
    traceback: str | None = Field(default=None, description="The failing cell's traceback (short form).")


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
