"""The contracts between the service, the runner, the in-job executor and every reader: one place.

Standard library only, and written for any Python 3.8+: the runner imports it inside containers and
bare environments, and `.jobs/nbexec.py` is shipped next to a copy of this file. Everything that
states these contracts elsewhere derives from here: the pydantic models (`service/schemas.py`), the
server's checks, the OpenAPI document and through it the Lab extension's TypeScript types.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any


class _Text(str, Enum):
    """A str enum that formats as its value (`f"{Status.RUNNING}"` is `RUNNING`) on every Python."""

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__


class Status(_Text):
    """A run's status; the runner writes PREPARING and RUNNING, `result.json` one of the final ones."""

    QUEUED = "QUEUED"
    PREPARING = "PREPARING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    LOST = "LOST"


FINAL_STATUSES = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.LOST})


class EventType(_Text):
    """The `type` of one line of events.jsonl."""

    STATUS = "status"  # status (PREPARING, RUNNING), started_at
    LOG = "log"  # stream (one of STREAMS), text
    PROGRESS = "progress"  # progress (0-100), message
    DISPLAY = "display"  # a display frame's FRAME_FIELDS
    RESULT = "result"  # result.json without its outputs: written last


# -- the run directory ---------------------------------------------------------------------------------
PLAN = "plan.json"  # what to run (a `Plan`), written by the service before start
EVENTS = "events.jsonl"  # one JSON object a line, see EventType
RESULT = "result.json"  # written last, atomically: how the run ended
PID = "runner.pid"
CANCEL = "cancel.json"  # written by the service; the runner also polls it (engines that cannot signal it)
HEARTBEAT = "heartbeat.json"  # {"t": time, "pid": ...}, rewritten by a live runner every HEARTBEAT_INTERVAL s
HEARTBEAT_INTERVAL = 5.0
PROGRESS = "progress.jsonl"  # JOB_PROGRESS_FILENAME points here
#: Secret values shorter than this are refused when stored and never masked: masking them would rewrite
#: every matching character of every log.
MIN_SECRET_LENGTH = 4
WORK = "work"
OUTPUTS = "outputs"
STREAMS = ("stdout", "stderr", "system")
#: A system `log` event may carry a `level`: LOG_DETAIL lines (a tool's own output, e.g. uv's per-package
#: lines) are the system log's detail, kept in it but not shown where the run is followed (a cell, `execute`);
#: a LOG_UPDATE line (a build's progress) is replaced by the next line of the log: one line updating in place.
LOG_DETAIL = "detail"
LOG_UPDATE = "update"
LOG_LEVELS = (LOG_DETAIL, LOG_UPDATE)

# -- the relay transport (an engine without a shared disk: the runner's stdout carries the run dir) -------
#: Starts each line of the runner's stdout that is a relay record (a JSON object after it): `{"n": N,
#: "event": OFFSET, "line": L}` (L is the line at byte OFFSET of the node's events.jsonl), `{"n": N,
#: "file": PATH, "at": POS, "data": BASE64, "mode": M}` (a chunk of outputs/PATH) or `{"n": N, "result":
#: R}` (result.json). N counts the records from 0, so a reader applies each once.
RELAY_MARKER = "@@jupyter-jobs-relay "
RELAY_STATE = "relay.json"  # the reader's position in the records: {"n", "offset"[, "pending"]}
RELAY_CHUNK = 48 * 1024  # bytes of an output file in one record (64 KiB of base64)
RELAY_OUTPUTS_LIMIT = 64 * 1024 * 1024  # outputs a relayed run may bring back (larger: the shared-fs transport)


def log_file(stream: str) -> str:
    return f"{stream}.log"


# -- display frames (runner/display.py parses them, runner/nbexec.py writes them) ------------------
DISPLAY_MARKER = "\x1ejupyter-jobs:display\x1f"  # a frame is DISPLAY_MARKER + json + "\n" on stdout
DISPLAY_MSG_TYPES = frozenset({"display_data", "update_display_data", "execute_result", "clear_output", "error"})
#: Keys a frame may carry into its `display` event.
FRAME_FIELDS = ("msg_type", "data", "metadata", "display_id", "execution_count", "wait", "ename", "evalue",
                "traceback", "cell", "summary")

# -- cell and notebook jobs: the files the kernel side (notebook/build.py) and nbexec.py share ------
JOB_DIR = ".jobs"
JOB_IN_DIR = f"{JOB_DIR}/in"  # the variables a cell reads
JOB_OUT_DIR = f"{JOB_DIR}/out"  # declared output folder: --out variables, the executed cell
JOB_FILE = f"{JOB_DIR}/job.json"  # what nbexec runs: mode, source or notebook, parameters
NBEXEC_FILE = f"{JOB_DIR}/nbexec.py"
#: Shipped beside nbexec.py (a name no user module takes), so the job imports these contracts.
PROTOCOL_FILE = f"{JOB_DIR}/jupyter_jobs_protocol.py"
VARIABLES_FILE = "variables.json"  # under JOB_OUT_DIR: the --out variables' manifest
CELL_NOTEBOOK = f"{JOB_OUT_DIR}/cell.ipynb"  # the executed one-cell notebook of a cell job
#: A notebook job's executed notebook is the output named by this variable; its place in the work
#: dir is `executed_notebook_src(name)` when the output path is absolute (it always is).
EXECUTED_NOTEBOOK_VAR = "OUTPUT_NOTEBOOK"


def executed_notebook_src(name: str = "") -> str:
    """Where a notebook job's executed notebook is under the work dir and `outputs/`."""
    return f"_outputs/{EXECUTED_NOTEBOOK_VAR}" + (f"/{name}" if name else "")


def is_executed_notebook(src: str) -> bool:
    base = executed_notebook_src()
    return src == base or src.startswith(base + "/")


# -- the plan ----------------------------------------------------------------------------------------
@dataclass
class PlanInput:
    """One file (or empty folder) staged into the work dir before the command starts."""

    dest: str  # relative to the work dir
    blob: str | None = None  # the content-addressed file to copy, as the runner sees it
    mode: int = 0o644
    size: int = 0
    dir: bool = False


@dataclass
class PlanOutput:
    name: str  # as the spec names it
    src: str  # where the job leaves it, relative to the work dir (and later to outputs/)


@dataclass
class Mount:
    """A folder of the service's machine the job uses, and where the executor's runner sees it."""

    host: str
    inside: str
    mode: str = "ro"  # "ro" or "rw"


@dataclass
class Graceful:
    signal: str = "SIGTERM"
    timeout: float = 10.0


@dataclass
class OnExit:
    """Embedded mode: when runs wait in `queue_dir`, the finishing runner starts `argv` to dispatch."""

    queue_dir: str
    argv: list[str]


@dataclass
class Plan:
    """What the runner runs: written by the service as plan.json, every path as the runner sees it."""

    run_id: str
    cmd: str
    work_dir: str
    inputs: list[PlanInput] = field(default_factory=list)
    outputs: list[PlanOutput] = field(default_factory=list)
    output_dirs: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    graceful: Graceful = field(default_factory=Graceful)
    timeout: float | None = None
    keep_workdir: bool = False
    notes: list[str] = field(default_factory=list)
    mounts: list[Mount] = field(default_factory=list)
    #: The job's Python environment: lock, cache_root, uv, max_bytes, hint (see pyenv/cache.py).
    python: dict[str, Any] | None = None
    #: Secrets arrive in the runner's environment; the plan holds only their names (to mask them).
    secret_names: list[str] = field(default_factory=list)
    on_exit: OnExit | None = None
    shell: str = "/bin/bash"
    inherit_env: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        """The plan from plan.json; unknown keys are refused, so both sides stay in step."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"plan.json: unknown keys {', '.join(unknown)}")
        values = dict(data)
        values["inputs"] = [PlanInput(**item) for item in data.get("inputs", [])]
        values["outputs"] = [PlanOutput(**item) for item in data.get("outputs", [])]
        values["mounts"] = [Mount(**item) for item in data.get("mounts", [])]
        values["graceful"] = Graceful(**data.get("graceful", {}))
        values["on_exit"] = OnExit(**data["on_exit"]) if data.get("on_exit") else None
        return cls(**values)
