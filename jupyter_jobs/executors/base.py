"""The small interface every executor implements; the service owns everything else."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from ..instances import InstanceType


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

    @abstractmethod
    def start(self, run_dir: Path, env: dict[str, str], launch: Launch | None = None) -> dict:
        """Start the runner on `run_dir` (its plan.json is written) with `env` added to its
        environment (secrets travel there, never in files); return a handle to store. `launch`
        carries the reserved resources, the image and its registry login."""

    @abstractmethod
    def is_alive(self, handle: dict, run_dir: Path) -> bool:
        """Whether the run started with `handle` still has a live runner."""

    @abstractmethod
    def signal_cancel(self, handle: dict, run_dir: Path) -> bool:
        """Ask the runner to cancel (cancel.json is written); False if it is gone."""
