"""The small interface every executor implements; the service owns everything else."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from ..instances import InstanceType


class Executor(ABC):
    #: Name users pass with --executor.
    name: str
    #: What specs this executor can honour beyond a plain command (e.g. "docker", "gpus").
    features: frozenset[str] = frozenset()
    #: Capacity the scheduler hands out: CPUs, memory and GPU ids.
    cpus: float
    memory_gb: float
    gpus: list[str]

    def map_path(self, path: Path) -> str:
        """`path` (on the service's machine) as the runner sees it; containers mount it elsewhere."""
        return str(path)

    @abstractmethod
    def refusal(self, instance: InstanceType) -> str | None:
        """Why this executor cannot serve `instance`, or None if it can."""

    def notes(self, instance: InstanceType) -> list[str]:
        """Things the user should know when `instance` runs here (limits not enforced, ...)."""
        return []

    @abstractmethod
    def start(self, run_dir: Path, env: dict[str, str]) -> dict:
        """Start the runner on `run_dir` (its plan.json is written) with `env` added to its
        environment (secrets travel there, never in files); return a handle to store."""

    @abstractmethod
    def is_alive(self, handle: dict, run_dir: Path) -> bool:
        """Whether the run started with `handle` still has a live runner."""

    @abstractmethod
    def signal_cancel(self, handle: dict, run_dir: Path) -> bool:
        """Ask the runner to cancel (cancel.json is written); False if it is gone."""
