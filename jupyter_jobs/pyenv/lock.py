"""`EnvLock`: everything needed to rebuild a job's Python environment, as plain data.

Standard library only, so a runner can read the lock a submission wrote into the run directory
(`EnvLock.from_dict(json.load(...))`) and hand `to_dict()` to `EnvCache.ensure` anywhere.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from .cache import lock_key, pip_options


@dataclass
class EnvLock:
    #: "3.11" (the submitter's major.minor) or the configured "3.x[.y]".
    python: str
    #: Requirement lines for `uv pip install -r`; paths are `./`-relative to the job folder.
    requirements: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    #: Normalised pip options (see `cache.PIP_DEFAULTS`).
    pip: dict = field(default_factory=lambda: pip_options(None))
    #: Local paths the requirements install (`./libs/pkg`) -> sha256 of their content, part of the key.
    sources: dict[str, str] = field(default_factory=dict)
    #: Files under the job folder to ship (relative, `/`-separated).
    local_files: list[str] = field(default_factory=list)
    #: Destination in the job -> absolute source, for code from outside the job folder (editable installs).
    extra_files: dict[str, str] = field(default_factory=dict)
    #: Folders relative to the job root for PYTHONPATH (`.`, `src`).
    python_paths: list[str] = field(default_factory=list)
    #: Reports, not part of the key: optional imports, those left out, unresolved module -> file:line.
    optional: list[str] = field(default_factory=list)
    optional_missing: list[str] = field(default_factory=list)
    unresolved: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def key(self) -> str:
        """Stable sha256 of Python version, sorted requirements, constraints, pip options and sources."""
        return lock_key(self.to_dict())

    def to_dict(self) -> dict:
        """JSON-ready; what `EnvCache.ensure` takes."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> EnvLock:
        known = {f.name for f in fields(cls)}
        return cls(**{name: value for name, value in data.items() if name in known})
