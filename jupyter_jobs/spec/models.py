"""The JobSpec: one pydantic model for what to run, whichever front door built it.

Config files, magic options and API bodies are all normalised into these models; the
DataSphere-compatible YAML form lives in `spec.config` (read) and `spec.writer` (write back).
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

#: Variable names: 1-50 letters, digits, `-` and `_` (the reference's intended set).
VAR_NAME = re.compile(r"^[A-Za-z0-9_-]{1,50}$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$")
#: Names the platform defines itself; a config may not declare them.
RESERVED_VARS = frozenset({"DS_PROJECT_HOME", "JOB_PROGRESS_FILENAME"})
SIGNALS = ("SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2")
DEFAULT_INSTANCE_TYPE = "c1.4"


# -- the checks every path and name that crosses a trust boundary goes through ---------------------------------
def no_control_chars(text: str) -> str:
    """Refuse NUL, newlines and other control characters: they truncate or split paths and log lines."""
    for ch in text:
        if unicodedata.category(ch) == "Cc":
            raise ValueError(f"{text[:80]!r} contains a control character ({ch!r})")
    return text


def climbs_out(path: str) -> bool:
    """True for an absolute path or one that leaves its base folder through `..`."""
    return path.startswith("/") or posixpath.normpath(path).split("/")[0] == ".."


def relative_path(path: str) -> str:
    """A normalised relative path below its base: no `/` first, no `..`, `.` or empty parts, no control
    characters ("" is allowed: the base itself)."""
    no_control_chars(path)
    if path and (path.startswith("/") or posixpath.normpath(path) != path or path in (".", "..")
                 or ".." in path.split("/")):
        raise ValueError(f"{path!r} is not a normalised relative path (no leading /, no `..`, `.` or `//`)")
    return path


def safe_name(name: str) -> str:
    """A name that becomes one folder on the service's machine: no separators, no dot first."""
    if not _SAFE_NAME.match(name):
        raise ValueError(f"{name[:80]!r} is not a plain name: 1-100 letters, digits, `.`, `_` or `-`, "
                         "not starting with `.`")
    return name


def no_nul(text: str) -> str:
    """Refuse NUL: no command line, argument or environment value can carry one."""
    if "\x00" in text:
        raise ValueError("contains a NUL character")
    return text


#: Text that reaches a command line or an environment (commands, argument and variable values).
CommandText = Annotated[str, AfterValidator(no_nul)]
#: An environment variable's name.
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
EnvName = Annotated[str, StringConstraints(pattern=ENV_NAME.pattern)]
#: A path relative to a folder the service owns (the work dir, an input's root).
RelativePath = Annotated[str, AfterValidator(relative_path)]
#: A `${VAR}` name.
VarName = Annotated[str, StringConstraints(pattern=VAR_NAME.pattern)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FileRef(_Model):
    """An input or output: a path on the submitting side, optionally bound to a `${VAR}`."""

    path: Annotated[str, AfterValidator(no_control_chars)]
    var: VarName | None = None

    @model_validator(mode="after")
    def _stays_inside(self) -> FileRef:
        """Outside the spec's folder (absolute, `..`) a file lands under `_inputs/VAR/`: it needs a VAR."""
        if not self.path.strip():
            raise ValueError("the path is empty")
        if not self.var and climbs_out(self.path):
            raise ValueError(f"path {self.path!r} is outside the spec's folder: it needs a variable")
        return self


class ResourceRef(_Model):
    """An S3 connector or dataset of the reference platform, by id, optionally bound to a `${VAR}`."""

    id: Annotated[str, AfterValidator(no_control_chars)]
    var: VarName | None = None


class DockerImage(_Model):
    image: str
    username: str | None = None
    #: Name of a stored secret holding the registry password; a plain password is refused.
    password_secret: str | None = None


class PipOptions(_Model):
    index_url: str | None = None
    extra_index_urls: list[str] = Field(default_factory=list)
    trusted_hosts: list[str] = Field(default_factory=list)
    no_deps: bool = False


class PythonEnv(_Model):
    """`env.python`: `auto` detects everything; `manual` takes what is given and detects the rest."""

    type: Literal["auto", "manual"] = "auto"
    #: "3.x" or "3.x.y", kept as text so 3.10 never becomes 3.1.
    version: str | None = None
    requirements_file: str | None = None
    #: None means "detect"; an empty list means "no local modules".
    local_paths: list[str] | None = None
    root_paths: list[str] = Field(default_factory=list)
    pip: PipOptions = Field(default_factory=PipOptions)

    @field_validator("version")
    @classmethod
    def _check_version(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"3\.\d{1,2}(\.\d{1,3})?", value):
            raise ValueError(f"Python version {value!r} is not 3.x or 3.x.y")
        return value


class Env(_Model):
    vars: dict[EnvName, CommandText] = Field(default_factory=dict)
    docker: DockerImage | None = None
    python: PythonEnv | None = None


class WorkingStorage(_Model):
    type: Literal["SSD"] = "SSD"
    size_gb: int = Field(ge=100)


class GracefulShutdown(_Model):
    signal: Literal["SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2"] = "SIGTERM"
    timeout_s: float = Field(default=10.0, ge=0)


class OutputDataset(_Model):
    #: Becomes a folder of the service's machine (`<data dir>/output-datasets/NAME`).
    name: Annotated[str, AfterValidator(safe_name)]
    var: VarName
    description: str | None = None
    size_gb: int | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class Spark(_Model):
    connector: str


class JobSpec(_Model):
    """What to run. Paths are as written by the user, relative to the spec's base folder."""

    name: str | None = None
    desc: str | None = None
    kind: Literal["command", "notebook", "cell"] = "command"
    cmd: CommandText = Field(min_length=1)
    args: dict[str, CommandText] = Field(default_factory=dict)
    inputs: list[FileRef] = Field(default_factory=list)
    outputs: list[FileRef] = Field(default_factory=list)
    s3_mounts: list[ResourceRef] = Field(default_factory=list)
    datasets: list[ResourceRef] = Field(default_factory=list)
    env: Env = Field(default_factory=Env)
    flags: list[Literal["attach-project-disk"]] = Field(default_factory=list)
    #: In priority order: the first one an executor here can serve is used.
    instance_types: list[str] = Field(default_factory=lambda: [DEFAULT_INSTANCE_TYPE])
    working_storage: WorkingStorage | None = None
    graceful_shutdown: GracefulShutdown = Field(default_factory=GracefulShutdown)
    output_datasets: list[OutputDataset] = Field(default_factory=list)
    spark: Spark | None = None
    #: Seconds; None = no limit.
    timeout_s: float | None = Field(default=None, gt=0)
    #: How many times a failed run (not a cancelled one) is started again.
    retries: int = Field(default=0, ge=0, le=10)

    @property
    def attach_project_disk(self) -> bool:
        return "attach-project-disk" in self.flags

    def variables(self) -> dict[str, str]:
        """Every `${VAR}` the spec declares, mapped to where it comes from (for messages)."""
        found: dict[str, str] = {}
        for name in self.args:
            found[name] = "args"
        for section, refs in (("inputs", self.inputs), ("outputs", self.outputs)):
            for ref in refs:
                if ref.var:
                    found[ref.var] = section
        for section, refs in (("s3-mounts", self.s3_mounts), ("datasets", self.datasets)):
            for ref in refs:
                found[ref.var or ref.id] = section
        for ds in self.output_datasets:
            found[ds.var] = "output-datasets"
        if self.attach_project_disk:
            found["DS_PROJECT_HOME"] = "flags"
        return found


def stored_spec(data: dict) -> JobSpec:
    """A spec as the index stored it, for reading what it declared (its outputs). One stored before a
    stricter rule came is read without the fields the current rules refuse, so its run can still end
    and bring its outputs back (a fork or a retry of it is checked in full)."""
    try:
        return JobSpec.model_validate(data)
    except ValidationError as exc:
        refused = {error["loc"][0] for error in exc.errors() if error["loc"]}
        return JobSpec.model_validate({key: value for key, value in data.items() if key not in refused})
