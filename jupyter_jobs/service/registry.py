"""The executors one service uses: those configured, and any other a submit or a stored run names,
built on first use. The server asks for them from several threads."""

from __future__ import annotations

import threading

from ..errors import JobsError, SubmitError
from ..executors import Executor, known_executors, make_executor


class ExecutorRegistry:
    def __init__(self, settings, executors: list[Executor] | None = None, secrets=None):
        self.settings = settings
        #: Read by an executor for its engine's login (Executor.secrets).
        self.secrets = secrets
        executors = executors or [self._make(name) for name in settings.executors]
        #: Name -> executor; the first configured one is the default.
        self.executors: dict[str, Executor] = {e.name: e for e in executors}
        self.default = executors[0].name
        self._lock = threading.Lock()

    def get(self, name: str | None) -> Executor:
        """The executor a submit names (the default when none), or a SubmitError saying which exist."""
        name = name or self.default
        with self._lock:
            if name not in self.executors:
                if name not in known_executors():
                    raise SubmitError(f"unknown executor {name!r}",
                                      hint=f"executors here: {', '.join(self.executors)}")
                self.executors[name] = self._make(name)
            return self.executors[name]

    def _make(self, name: str) -> Executor:
        executor = make_executor(name, self.settings)
        if self.secrets is not None:
            executor.secrets = self.secrets
        return executor

    def find(self, name: str) -> Executor | None:
        """The executor a stored run names; None if this process cannot build or reach it."""
        try:
            return self.get(name)
        except JobsError:
            return None

    def names(self) -> list[str]:
        return list(self.executors)

    def close(self) -> None:
        with self._lock:
            executors = list(self.executors.values())
        for executor in executors:
            executor.close()
