"""Secrets: values jobs get as environment variables, kept in an owner-only file, never in the database
(which may be shared), in run files, logs or API answers."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ..errors import JobsError, NotFound
from ..runner.protocol import MIN_SECRET_LENGTH

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


class SecretStore:
    def __init__(self, path: Path):
        self.path = path

    def _read(self) -> dict[str, str]:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}

    def _write(self, data: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, self.path)

    def set(self, name: str, value: str) -> None:
        if not _NAME.match(name):
            raise JobsError(f"secret name {name!r} is not a valid environment variable name",
                            hint="use letters, digits and _; it becomes the job's environment variable")
        if not value:
            raise JobsError(f"secret {name}: the value is empty")
        if len(value) < MIN_SECRET_LENGTH:
            raise JobsError(f"secret {name}: a value this short is too short to be masked in logs (it needs at "
                            f"least {MIN_SECRET_LENGTH} characters)", hint="choose a longer value")
        data = self._read()
        data[name] = value
        self._write(data)

    def delete(self, name: str) -> None:
        data = self._read()
        if name not in data:
            raise NotFound(f"no secret named {name!r}", hint="see `jupyter jobs secrets list`")
        del data[name]
        self._write(data)

    def names(self) -> list[str]:
        return sorted(self._read())

    def values(self) -> dict[str, str]:
        return self._read()
