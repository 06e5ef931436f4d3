"""One exception family, so every front door can show a user one clear line instead of a traceback."""

from __future__ import annotations


class JobsError(Exception):
    """Base of every error a user can cause or fix; `hint` says how to fix it."""

    #: HTTP status the server answers with (see the server's error mapping).
    status = 400

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(JobsError):
    """A problem in a job config: names the key path and the line in the file."""

    status = 422

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        line: int | None = None,
        source: str | None = None,
        hint: str | None = None,
    ):
        super().__init__(message, hint)
        self.key = key
        self.line = line
        self.source = source

    def __str__(self) -> str:
        where = []
        if self.source:
            where.append(self.source + (f":{self.line}" if self.line else ""))
        elif self.line:
            where.append(f"line {self.line}")
        if self.key:
            where.append(f"`{self.key}`")
        text = (": ".join([" ".join(where), self.message])) if where else self.message
        return f"{text} ({self.hint})" if self.hint else text


class NotFound(JobsError):
    """An unknown run id, blob or file."""

    status = 404


class Conflict(JobsError):
    """The request contradicts the current state (e.g. deleting a running job)."""

    status = 409


class SubmitError(JobsError):
    """The job cannot run here as asked (instance type, executor features, limits)."""

    status = 422


class ExecutorError(JobsError):
    """An executor failed to start, watch or stop a run."""

    status = 502
