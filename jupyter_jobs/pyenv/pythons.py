"""Which Python versions can build an environment here, so a bad `env.python.version` fails at submit.

uv is asked because uv builds the environments: what `uv python list --only-installed` finds is exactly
what `uv venv --python X` can use. Nothing is ever downloaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ..errors import ConfigError
from .cache import EnvBuildError, find_uv


def available_pythons(uv_bin: str | None = None) -> list[str]:
    """Installed interpreter versions ("3.11.7", ...), sorted; this interpreter's if uv is missing."""
    own = "{}.{}.{}".format(*sys.version_info[:3])
    try:
        done = subprocess.run(
            [uv_bin or find_uv(), "python", "list", "--only-installed", "--output-format", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            env=dict(os.environ, UV_PYTHON_DOWNLOADS="never"),
        )
        found = {
            entry["version"] for entry in json.loads(done.stdout or "[]") if entry.get("implementation") == "cpython"
        }
    except (EnvBuildError, OSError, ValueError, subprocess.TimeoutExpired):
        found = set()
    return sorted(found or {own}, key=lambda v: tuple(int(p) if p.isdigit() else 0 for p in v.split(".")))


def check_python_version(version: str, available: list[str] | None = None) -> None:
    """Refuse `version` ("3.x" or "3.x.y") unless an interpreter here provides it."""
    if available is None:
        own = "{}.{}.{}".format(*sys.version_info[:3])
        if own == version or own.startswith(version + "."):
            return  # this interpreter provides it: no need to ask uv (about a second with many Pythons)
        available = available_pythons()
    if not any(found == version or found.startswith(version + ".") for found in available):
        raise ConfigError(
            f"Python {version} is not available here",
            key="env.python.version",
            hint=f"available: {', '.join(available) or 'none'}",
        )
