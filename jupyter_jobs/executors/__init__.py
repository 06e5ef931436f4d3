"""Executors: where a run's runner is started (this machine, a container, a cluster).

Executors are found through the `jupyter_jobs.executors` entry-point group (pyproject.toml), so an
engine's executor may live in another package; each is built with `Executor.from_settings`, which
gives a traitlets executor its `c.<Class>.*` options.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points

from ..errors import SubmitError
from .base import Executor, Launch, Liveness
from .local import LocalExecutor

GROUP = "jupyter_jobs.executors"


@cache
def known_executors() -> dict[str, EntryPoint]:
    """Executor name -> its entry point, for every installed package that registers one."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def make_executor(name: str, settings) -> Executor:
    """Build one executor; its own traitlets options come from the settings' config."""
    found = known_executors()
    if name not in found:
        raise SubmitError(f"unknown executor {name!r}", hint=f"known executors: {', '.join(sorted(found))}")
    try:
        cls = found[name].load()
    except ImportError as exc:
        raise SubmitError(f"the {name} executor is not available here: {exc}",
                          hint=f"pip install 'jupyter-jobs[{name}]'") from None
    return cls.from_settings(settings)


__all__ = ["GROUP", "Executor", "Launch", "Liveness", "LocalExecutor", "known_executors", "make_executor"]
