"""`env.python` -> `EnvLock`: take what the config gives, detect only what it leaves out.

`auto` detects everything. `manual` uses the given `version`, `requirements-file` and `local-paths`
and detects the omitted ones (`local-paths: []` means no local code); with all three given nothing is
detected, so a job can be submitted from a machine that cannot reproduce its environment.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..errors import ConfigError
from ..spec.models import PythonEnv
from .cache import pip_options
from .entrypoints import find_entry_points
from .lock import EnvLock
from .probe import probe_environment
from .pythons import check_python_version
from .requirements import Requirements, parse_requirements
from .resolve import Detection, detect

_SKIP_DIRS = {"__pycache__", ".git", ".ipynb_checkpoints"}


def resolve_python_env(
    env: PythonEnv | None,
    cmd: str,
    base_dir: Path,
    *,
    python: str | None = None,
    check_available: bool = True,
) -> EnvLock:
    """The lock for a job run from `base_dir` with `cmd`.

    `python` is the submitting interpreter whose packages are pinned (default: this one);
    `check_available` refuses a version no interpreter here provides.
    """
    env = env or PythonEnv()
    base = Path(base_dir).resolve()
    manual = env.type == "manual"
    version = env.version if manual else None
    req_file = env.requirements_file if manual else None
    local_paths = env.local_paths if manual else None

    detection: Detection | None = None
    if req_file is None or local_paths is None:
        entries = find_entry_points(cmd, base, env.root_paths)
        detection = detect(base, entries.files, entries.modules, python=python)
        # A script the command creates itself (`unzip code.zip && python train.py`) is not an error.
        detection.warnings += [
            f"{name}: not a file in the job folder; its imports are unknown" for name in entries.missing
        ]

    if version is None:
        version = detection.python_version if detection else probe_environment(python)["python_version"]
    if check_available:
        check_python_version(version)

    requirements = _requirements_file(base, req_file) if req_file is not None else None
    lock = EnvLock(python=version)
    if requirements is not None:
        lock.requirements = requirements.lines
        lock.constraints = requirements.constraints
        lock.sources = {path: _digest(base / path) for path in requirements.local_paths}
    else:
        lock.requirements = detection.requirements
    lock.pip = _merge_pip(env, requirements)

    if local_paths is not None:
        lock.local_files = _expand(base, local_paths)
    else:
        lock.local_files = detection.local_files
        lock.extra_files = detection.extra_files
        lock.python_paths = detection.python_paths
    if requirements is not None:
        lock.local_files = sorted(set(lock.local_files) | set(_expand(base, requirements.local_paths)))
    if detection is not None:
        lock.optional = detection.optional
        lock.optional_missing = detection.optional_missing
        lock.unresolved = detection.unresolved
        lock.warnings = detection.warnings
    return lock


def _requirements_file(base: Path, name: str) -> Requirements:
    path = base / name
    if not path.is_file():
        raise ConfigError(f"requirements file {name} not found in {base}", key="env.python.requirements-file")
    return parse_requirements(path, base)


def _merge_pip(env: PythonEnv, requirements: Requirements | None) -> dict:
    """Options from the requirements file, overridden (index URL) or extended (lists) by `env.python.pip`."""
    merged = pip_options(requirements.options if requirements else None)
    given = env.pip
    if given.index_url:
        merged["index_url"] = given.index_url
    merged["extra_index_urls"] += given.extra_index_urls
    merged["trusted_hosts"] += given.trusted_hosts
    merged["no_deps"] = merged["no_deps"] or given.no_deps
    return pip_options(merged)


def _expand(base: Path, paths: list[str]) -> list[str]:
    """`local-paths` entries (files or folders) as the files to ship; a missing one is a config error."""
    files: set[str] = set()
    for entry in paths:
        path = (base / entry).resolve()
        if not path.is_relative_to(base):
            raise ConfigError(f"{entry} is outside the job folder {base}", key="env.python.local-paths")
        if path.is_file():
            files.add(path.relative_to(base).as_posix())
        elif path.is_dir():
            for folder, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
                files.update(Path(folder, n).relative_to(base).as_posix() for n in names if not n.endswith(".pyc"))
        else:
            raise ConfigError(f"{entry}: no such file or folder in {base}", key="env.python.local-paths")
    return sorted(files)


def _digest(path: Path) -> str:
    """Content hash of a file or folder a requirement installs, so an edit makes a new environment."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if _SKIP_DIRS.intersection(file.relative_to(path.parent).parts) or file.suffix == ".pyc":
            continue
        digest.update(file.relative_to(path.parent).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()
