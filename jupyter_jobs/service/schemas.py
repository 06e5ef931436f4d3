"""What the service takes and gives: submit requests, runs, overrides. Also the REST API's models."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, computed_field

from ..runner.protocol import FINAL_STATUSES, EventType, Status, is_executed_notebook
from ..spec.bundle import Bundle, BundleInput
from ..spec.models import CommandText, EnvName, JobSpec, no_control_chars


class Origin(BaseModel):
    """Where a job came from, so outputs can go back there and the UI can say what it ran."""

    model_config = ConfigDict(extra="forbid")

    base_dir: str | None = None
    source: str | None = None  # config file, notebook or "cell"
    host: str | None = None
    user: str | None = None
    project_dir: str | None = None


class SubmitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spec: JobSpec
    bundle: Bundle = Field(default_factory=Bundle)
    origin: Origin = Field(default_factory=Origin)
    executor: str | None = None
    parent_id: str | None = None
    #: A retried submit with the same key returns the first run instead of starting another.
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=128)


class ForkRequest(BaseModel):
    """`fork --arg/--var/--env-var/--param/--cloud-instance-type/--name/--desc` as data."""

    model_config = ConfigDict(extra="forbid")

    args: dict[str, CommandText] = Field(default_factory=dict)
    env_vars: dict[EnvName, CommandText] = Field(default_factory=dict)
    #: Variable name -> the new input (already uploaded), or output path.
    inputs: dict[str, BundleInput] = Field(default_factory=dict)
    outputs: dict[str, Annotated[str, AfterValidator(no_control_chars)]] = Field(default_factory=dict)
    #: A notebook run's parameters to change (the others keep the parent run's values).
    parameters: dict[str, Any] = Field(default_factory=dict)
    instance_type: str | None = None
    name: str | None = None
    desc: str | None = None
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=128)


class OutputFile(BaseModel):
    path: str
    size: int


class OutputEntry(BaseModel):
    name: str  # as the spec names it
    src: str  # where it is under the run's outputs/ (and was in the work dir)
    missing: bool = False
    is_dir: bool = False
    files: list[OutputFile] = Field(default_factory=list)

    @computed_field(description="The executed notebook of a notebook job (runner/protocol.py's location).")
    @property
    def executed_notebook(self) -> bool:
        return is_executed_notebook(self.src)


class Run(BaseModel):
    id: str
    name: str | None = None
    desc: str | None = None
    kind: str = "command"
    status: Status
    executor: str
    instance_type: str
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    error: str | None = None
    progress: float | None = None
    progress_message: str | None = None
    parent_id: str | None = None
    expires_at: float | None = None
    data_deleted: bool = False
    outputs: list[OutputEntry] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    origin: Origin = Field(default_factory=Origin)
    attempt: int = 1
    #: 1 = starts next; None unless QUEUED.
    queue_position: int | None = None
    spec: JobSpec

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        import time

        return (self.finished_at or time.time()) - self.started_at


class Event(BaseModel):
    """One line of a run's events.jsonl (`runner/protocol.py`): a status change, a log chunk, progress,
    a display frame (its FRAME_FIELDS) or the result. Which fields are set depends on `type`."""

    model_config = ConfigDict(extra="allow")

    type: EventType
    t: float
    stream: str | None = Field(default=None, description="log: stdout, stderr or system")
    text: str | None = Field(default=None, description="log")
    status: Status | None = Field(default=None, description="status, result")
    started_at: float | None = Field(default=None, description="status RUNNING")
    progress: float | None = Field(default=None, description="progress: 0-100")
    message: str | None = Field(default=None, description="progress")
    exit_code: int | None = Field(default=None, description="result")
    error: str | None = Field(default=None, description="result")
