"""The small interface every executor implements; the service owns everything else."""

from __future__ import annotations

import enum
from abc import ABC, ABCMeta, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from traitlets.traitlets import MetaHasTraits

from ..instances import InstanceType


class Liveness(enum.Enum):
    """What an executor knows of a started runner. UNKNOWN (the engine cannot be asked now) is never
    taken for GONE: only GONE, with no result, makes a run LOST."""

    ALIVE = "alive"
    GONE = "gone"
    UNKNOWN = "unknown"


@dataclass
class Launch:
    """What the service decided for one run beyond its plan, handed to `Executor.start`."""

    run_id: str
    #: Name of the instance type the run got (for messages: "instance g1.1 needs 1 GPU ...").
    instance: str
    #: What the scheduler reserved: {"cpus": float, "memory_gb": float, "gpus": [ids]}.
    resources: dict = field(default_factory=dict)
    #: `env.docker.image` of the spec, None when it names none.
    image: str | None = None
    #: Registry login for `image`, the password resolved from the service's secrets; never logged.
    registry_auth: dict | None = field(default=None, repr=False)


class ExecutorMeta(MetaHasTraits, ABCMeta):
    """The metaclass of an executor that is also a traitlets Configurable (`c.<Class>.*` options)."""


def gpu_count(count: float) -> str:
    """`1 GPU`, `2 GPUs`, `0 GPUs`, `0.5 GPU` (a part of one)."""
    return f"{count:g} GPU" + ("" if 0 < count <= 1 else "s")


def gpu_shortage(instance: InstanceType, have: int, where: str) -> str:
    """The refusal every executor gives for a type asking more GPUs than it has: `where` names what it
    asked ("this machine has"), e.g. "needs 2 GPUs (any); this machine has 1 GPU"."""
    return f"needs {gpu_count(instance.gpus)} ({instance.gpu_kind or 'any'}); {where} {gpu_count(have)}"


def oversize_note(instance: InstanceType, cpus: float, memory_gb: float, host: str, outcome: str) -> list[str]:
    """The note every executor gives for a type larger than what serves it: `host` names what serves it
    ("this machine"), `outcome` says what follows ("so the job gets that")."""
    if instance.cpus > cpus or instance.memory_gb > memory_gb:
        return [f"{instance.name} asks for {instance.cpus:g} vCPU / {instance.memory_gb:g} GB; {host} has "
                f"{cpus:g} vCPU / {memory_gb:.0f} GB, {outcome}"]
    return []


class Executor(ABC):
    #: Name users pass with --executor.
    name: str
    #: What specs this executor can honour beyond a plain command (e.g. "docker", "gpus").
    features: frozenset[str] = frozenset()
    #: Capacity the scheduler hands out: CPUs, memory and GPU ids.
    cpus: float
    memory_gb: float
    gpus: list[str]
    #: The runner runs on this machine with the service's Python and file system, so it can start the
    #: embedded queue kick when it ends (a container or a cluster node cannot).
    shares_host: bool = True

    #: Whether a folder given read-only (the project disk, datasets) is really read-only for the job.
    enforces_read_only = False

    @staticmethod
    def secrets() -> dict[str, str]:
        """The service's secrets (name -> value); the service that uses this executor sets it, so an
        engine's own login (a cluster token named in the executor's options) comes from there."""
        return {}

    @classmethod
    def from_settings(cls, settings) -> Executor:
        """Build it for the service's `JobsSettings`; a traitlets executor reads its `c.<Class>.*`
        options from them (it is their child)."""
        return cls(parent=settings)

    def folder_path(self, host: str, name: str) -> str:
        """Where the job sees `host`, a folder of the service's machine that the plan lists under
        `mounts` (project disk, datasets); `name` is a short unique name for it."""
        return host

    def map_path(self, path: Path) -> str:
        """`path` (on the service's machine) as the runner sees it; containers mount it elsewhere."""
        return str(path)

    @abstractmethod
    def refusal(self, instance: InstanceType) -> str | None:
        """Why this executor cannot serve `instance`, or None if it can."""

    def notes(self, instance: InstanceType) -> list[str]:
        """Things the user should know when `instance` runs here (limits not enforced, ...)."""
        return []

    def gpu_env(self, gpus: list[str]) -> dict[str, str]:
        """Variables that show a job the GPUs the scheduler gave it."""
        return {"CUDA_VISIBLE_DEVICES": ",".join(gpus)} if gpus else {}

    def env_build_hint(self) -> str | None:
        """Added to a failed environment build's message (e.g. why the index may be unreachable)."""
        return None

    def expect_launch(self) -> None:
        """A submit to this executor has begun: get ready for its start (the local executor starts
        its runner's interpreter now). Nothing may depend on it: the run can still be refused or queued."""
        return None

    def close(self) -> None:
        """Release what this process holds for later starts; runs already started keep going."""
        return None

    def prepare(self, run_dir: Path, launch: Launch) -> None:
        """Slow work before any runner can exist (an image pull). A start cut short here (the process
        starting it killed) is queued again; one cut short in `start` is LOST, never started twice."""
        return None  # most engines have nothing to do before starting

    @abstractmethod
    def start(self, run_dir: Path, env: dict[str, str], launch: Launch | None = None) -> dict:
        """Start the runner on `run_dir` (its plan.json is written) with `env` added to its
        environment (secrets travel there, never in files); return a handle to store. `launch`
        carries the reserved resources, the image and its registry login."""

    @abstractmethod
    def liveness(self, handle: dict, run_dir: Path) -> Liveness:
        """Whether the run started with `handle` still has a runner: ALIVE, GONE, or UNKNOWN when the
        engine cannot be reached (the run is then left as it is). Before answering GONE for a runner
        that left no result, an executor may write `result.json` saying what the engine reports ended
        it (Slurm's TIMEOUT, NODE_FAIL, ...); the result is read again after this call."""

    @abstractmethod
    def signal_cancel(self, handle: dict, run_dir: Path) -> bool:
        """Ask the runner to cancel (cancel.json is written); False if it is gone."""
