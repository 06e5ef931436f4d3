"""Executors: where a run's runner is started (this machine, a container, a cluster).

Executors are found through the `jupyter_jobs.executors` entry-point group (pyproject.toml), so an
engine's executor may live in another package; each is built with `Executor.from_settings`, which
gives a traitlets executor its `c.<Class>.*` options.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, PackageNotFoundError, distribution, entry_points

from ..errors import SubmitError
from .base import Executor, Launch, Liveness
from .local import LocalExecutor

GROUP = "jupyter_jobs.executors"


@cache
def known_executors() -> dict[str, EntryPoint]:
    """Executor name -> its entry point, for every installed package that registers one."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


@cache
def _own_executors() -> dict[str, EntryPoint]:
    """The executors jupyter-jobs itself registers: read from its own metadata alone, where looking
    through every installed package's entry points costs a CLI call tens of milliseconds."""
    try:
        return {ep.name: ep for ep in distribution("jupyter-jobs").entry_points if ep.group == GROUP}
    except PackageNotFoundError:  # run from a source tree that is not installed
        return {}


def make_executor(name: str, settings) -> Executor:
    """Build one executor; its own traitlets options come from the settings' config."""
    found = _own_executors() if name in _own_executors() else known_executors()
    if name not in found:
        raise SubmitError(f"unknown executor {name!r}", hint=f"known executors: {', '.join(sorted(found))}")
    try:
        cls = found[name].load()
    except ImportError as exc:
        raise SubmitError(f"the {name} executor is not available here: {exc}",
                          hint=f"pip install 'jupyter-jobs[{name}]'") from None
    return cls.from_settings(settings)


__all__ = ["GROUP", "Executor", "Launch", "Liveness", "LocalExecutor", "known_executors", "make_executor"]
