"""The import layers (pyproject.toml [tool.importlinter]) hold: `lint-imports` passes, and it would catch
a break (checked on a copy of the package with one forbidden import added)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("lint-imports")
LINT = [str(_SCRIPT)] if _SCRIPT.exists() else [
    sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"]


def lint(cwd: Path, config: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(pythonpath)) if pythonpath else None
    return subprocess.run([*LINT, "--no-cache", str(config)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_every_import_contract_is_kept():
    done = lint(ROOT, ROOT / "pyproject.toml")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout and "Contracts: 4 kept, 0 broken." in done.stdout, done.stdout[-3000:]


def test_a_forbidden_import_breaks_the_contracts(tmp_path):
    """The same contracts on a copy of the package whose runner imports pydantic and the service."""
    shutil.copytree(ROOT / "jupyter_jobs", tmp_path / "jupyter_jobs",
                    ignore=shutil.ignore_patterns("labextension", "__pycache__", "*.pyc"))
    protocol = tmp_path / "jupyter_jobs" / "runner" / "protocol.py"
    protocol.write_text(protocol.read_text() + "\nimport pydantic  # noqa\nfrom ..service import db  # noqa\n")
    broken = lint(tmp_path, ROOT / "pyproject.toml", pythonpath=tmp_path)
    assert broken.returncode != 0
    assert "jupyter_jobs.runner is not allowed to import jupyter_jobs.service" in broken.stdout, broken.stdout
    assert "jupyter_jobs.runner.protocol -> pydantic" in broken.stdout, broken.stdout
