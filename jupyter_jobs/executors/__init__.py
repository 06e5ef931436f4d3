"""Executors: where a run's runner is started (this machine, a container, a cluster)."""

from .base import Executor
from .local import LocalExecutor

__all__ = ["Executor", "LocalExecutor"]
