"""Executors: where a run's runner is started (this machine, a container, a cluster)."""

from __future__ import annotations

from ..errors import SubmitError
from .base import Executor, Launch
from .local import LocalExecutor

#: Executors this package knows; each is created when configured or first asked for by name.
KNOWN = ("local", "docker", "ray")


def make_executor(name: str, settings) -> Executor:
    """Build one executor; its own traitlets options come from the settings' config."""
    if name == "local":
        return LocalExecutor(settings.local_gpus, settings.local_cpus, settings.local_memory_gb)
    try:
        if name == "docker":
            from .docker import DockerExecutor

            return DockerExecutor(parent=settings)
        if name == "ray":
            from .ray import RayExecutor

            return RayExecutor(parent=settings)
    except ImportError as exc:
        raise SubmitError(f"the {name} executor is not available here: {exc}",
                          hint=f"pip install 'jupyter-jobs[{name}]'") from None
    raise SubmitError(f"unknown executor {name!r}", hint=f"known executors: {', '.join(KNOWN)}")


__all__ = ["KNOWN", "Executor", "Launch", "LocalExecutor", "make_executor"]
