"""Helpers the test modules import (tests/ is on pytest's pythonpath)."""

from __future__ import annotations

import os

import pytest


def require_in_ci(reason: str) -> None:
    """Skip outside CI; under CI=true a missing required service is a failure, not a skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)
