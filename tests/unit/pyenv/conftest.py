"""Helpers for the pyenv tests: write small project trees."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest


@pytest.fixture
def tree(tmp_path: Path):
    """`tree({"a.py": "...", "pkg/__init__.py": ""})` writes files under tmp_path and returns it."""

    def write(files: dict[str, str]) -> Path:
        for name, text in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        return tmp_path

    return write
