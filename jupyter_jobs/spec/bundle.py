"""The Bundle: the files a job needs, named by sha256, so only what the service lacks is uploaded."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from .models import FileRef, RelativePath, no_control_chars

#: A blob's name in the store: its content's sha256, lowercase hex (never a path).
SHA256 = r"^[0-9a-f]{64}$"
Sha256 = Annotated[str, StringConstraints(pattern=SHA256)]


class BundleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Relative to the input's own root ("" when the input is a single file).
    path: RelativePath = ""
    sha256: Sha256 | None = None  # None for a directory entry (kept so empty folders survive)
    size: int = Field(default=0, ge=0)
    mode: int = Field(default=0o644, ge=0, le=0o7777)


class BundleInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The input as the spec names it (`FileRef.path`).
    ref: Annotated[str, AfterValidator(no_control_chars)]
    is_dir: bool = False
    files: list[BundleFile] = Field(default_factory=list)


class Bundle(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: list[BundleInput] = Field(default_factory=list)
    #: Local modules the job imports, paths relative to the work dir (env.python detection).
    code: BundleInput | None = None
    #: The Python environment lock (`pyenv.lock.EnvLock.to_dict()`), when the spec has env.python.
    python: dict | None = None

    def _all(self) -> list[BundleInput]:
        return self.inputs + ([self.code] if self.code else [])

    def shas(self) -> set[str]:
        return {f.sha256 for i in self._all() for f in i.files if f.sha256}

    def size(self) -> int:
        return sum(f.size for i in self._all() for f in i.files)


def input_dest(ref: FileRef) -> str:
    """Where an input lands in the job's work dir (and what its ${VAR} points to)."""
    if os.path.isabs(ref.path) or posixpath.normpath(ref.path).startswith(".."):
        return f"_inputs/{ref.var}/{posixpath.basename(ref.path.rstrip('/'))}"
    return posixpath.normpath(ref.path)


def output_dest(ref: FileRef) -> str:
    if os.path.isabs(ref.path) or posixpath.normpath(ref.path).startswith(".."):
        return f"_outputs/{ref.var}/{posixpath.basename(ref.path.rstrip('/'))}"
    return posixpath.normpath(ref.path)


def local_path(ref_path: str, base_dir: str | os.PathLike) -> Path:
    """The file on the submitting side that an input or output names."""
    return Path(ref_path) if os.path.isabs(ref_path) else Path(base_dir) / ref_path
