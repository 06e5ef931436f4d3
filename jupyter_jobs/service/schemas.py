"""What the service takes and gives: submit requests, runs, overrides. Also the REST API's models."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, computed_field, model_validator

from ..runner.protocol import FINAL_STATUSES, EventType, Status, is_executed_notebook
from ..spec.bundle import Bundle, BundleInput
from ..spec.models import CommandText, EnvName, JobSpec, no_control_chars
from .cron import check_cron, check_timezone


class Origin(BaseModel):
    """Where a job came from, so outputs can go back there and the UI can say what it ran."""

    model_config = ConfigDict(extra="forbid")

    base_dir: str | None = None
    source: str | None = None  # config file, notebook or "cell"
    host: str | None = None
    user: str | None = None
    project_dir: str | None = None
    #: A notebook run's parameters, each as the Python literal papermill injects (for `list` and the Lab).
    parameters: dict[str, str] = Field(default_factory=dict)


class SubmitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spec: JobSpec
    bundle: Bundle = Field(default_factory=Bundle)
    origin: Origin = Field(default_factory=Origin)
    executor: str | None = None
    parent_id: str | None = None
    #: A retried submit with the same key returns the first run instead of starting another.
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=128)


class TypedValue(BaseModel):
    """A form field's text and the type it is read as: a browser's JSON makes the float `2.0` the number
    `2`, so the Lab sends what was typed (`{"type": "float", "text": "2.0"}`) and the server types it."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["int", "float", "bool", "str", "literal"] = Field(
        description="literal: a Python literal as a parameters cell writes it (else the text)")
    text: str

    @model_validator(mode="after")
    def _readable(self) -> TypedValue:
        self.value()
        return self

    def value(self) -> Any:
        from ..notebook.parameters import typed_value

        return typed_value(self.type, self.text)


class ParametersRequest(BaseModel):
    """A notebook run's parameters: JSON values, and form fields typed as declared (folded into
    `parameters`, over them)."""

    parameters: dict[str, Any] = Field(default_factory=dict)
    typed_parameters: dict[str, TypedValue] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _fold_typed(self) -> ParametersRequest:
        if self.typed_parameters:
            self.parameters = {**self.parameters, **{k: v.value() for k, v in self.typed_parameters.items()}}
            self.typed_parameters = {}
        return self


class ForkRequest(ParametersRequest):
    """`fork --arg/--var/--env-var/--param/--cloud-instance-type/--name/--desc` as data; `parameters` (and
    `typed_parameters`): a notebook run's parameters to change (the others keep the parent run's values)."""

    model_config = ConfigDict(extra="forbid")

    args: dict[str, CommandText] = Field(default_factory=dict)
    env_vars: dict[EnvName, CommandText] = Field(default_factory=dict)
    #: Variable name -> the new input (already uploaded), or output path.
    inputs: dict[str, BundleInput] = Field(default_factory=dict)
    outputs: dict[str, Annotated[str, AfterValidator(no_control_chars)]] = Field(default_factory=dict)
    instance_type: str | None = None
    name: str | None = None
    desc: str | None = None
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=128)
    lenient: bool = Field(default=False, description="as `run --lenient` (papermill's way): parameters the "
                          "notebook does not take are passed, with a note on the run, instead of refused")


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
    #: The schedule that fired this run, if one did.
    schedule_id: str | None = None
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
    level: Literal["detail", "update"] | None = Field(
        default=None, description="system log: `detail` (a tool's own output, hidden where the run is followed) or "
        "`update` (replaced by the log's next line)")
    status: Status | None = Field(default=None, description="status, result")
    started_at: float | None = Field(default=None, description="status RUNNING")
    progress: float | None = Field(default=None, description="progress: 0-100")
    message: str | None = Field(default=None, description="progress")
    exit_code: int | None = Field(default=None, description="result")
    error: str | None = Field(default=None, description="result")


class ScheduleTiming(BaseModel):
    """When a schedule fires, and what it does about ticks it could not fire as planned."""

    model_config = ConfigDict(extra="forbid")

    cron: Annotated[str, AfterValidator(check_cron)] = Field(
        max_length=200, description="5 fields: minute hour day-of-month month day-of-week, e.g. '0 3 * * *'")
    timezone: Annotated[str, AfterValidator(check_timezone)] = Field(
        default="UTC", description="IANA time zone the cron expression is read in")
    missed: Literal["skip", "run-once"] = Field(
        default="skip", description="ticks missed while no server ran: skip them all, or run once for them")
    overlap: Literal["skip", "queue"] = Field(
        default="skip", description="a tick while the previous run still goes: skip it, or queue another run")
    name: Annotated[str, AfterValidator(no_control_chars)] | None = Field(
        default=None, max_length=200, description="default: the job's name or the notebook's file name")


def timing_problem(exc: ValidationError) -> tuple[str, str]:
    """The field a refused ScheduleTiming names first, and what is wrong with it, as one line."""
    first = exc.errors(include_url=False)[0]
    field = str(first["loc"][0]) if first["loc"] else "cron"
    return field, first["msg"].removeprefix("Value error, ")


class ScheduleRequest(BaseModel):
    """`POST /jobs/schedules`: the timing and the job each tick submits (what `POST /jobs/runs` takes)."""

    model_config = ConfigDict(extra="forbid")

    timing: ScheduleTiming
    job: SubmitRequest


class SkippedTick(BaseModel):
    at: float = Field(description="the tick's time (epoch seconds)")
    reason: str


class Schedule(BaseModel):
    id: str
    name: str
    source: str | None = None
    kind: str = "command"
    cron: str
    timezone: str
    missed: str
    overlap: str
    description: str = Field(description="the cron expression in words, e.g. 'At 03:00 AM'")
    paused: bool
    created_at: float
    next_fire_at: float | None = Field(default=None, description="None while paused")
    next_times: list[float] = Field(default_factory=list, description="the next 3 fire times; empty while paused")
    executor: str
    instance_type: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    last_run_id: str | None = None
    last_status: Status | None = None
    last_fired_at: float | None = None
    run_count: int = 0
    skipped: list[SkippedTick] = Field(default_factory=list, description="newest first, the last 50")
    skipped_count: int = 0


class ScheduleList(BaseModel):
    schedules: list[Schedule]


class CronPreview(BaseModel):
    description: str
    next_times: list[float]
