"""A run's outputs as the host sees them: its own walk of `outputs/` against the outputs the user
declared, and reading one output file. Nothing the job wrote (result.json, file names it chose for
a declared output's path, symlinks) decides what is listed or which file is read."""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import BinaryIO

from ..errors import JobsError, NotFound
from ..runner import protocol
from ..spec.bundle import output_dest
from ..spec.models import FileRef, JobSpec
from . import safefs
from .schemas import OutputEntry, OutputFile


def declared_outputs(spec: JobSpec) -> list[tuple[FileRef, str]]:
    """Each output the spec declares, with where the job leaves it (relative to the work dir, and
    after the run to `outputs/`). The plan and the manifest both use this one mapping."""
    return [(ref, output_dest(ref)) for ref in spec.outputs]


def output_manifest(run_dir: Path, spec: JobSpec) -> list[OutputEntry]:
    """What came out of each declared output: regular files only, found without following symlinks."""
    root = Path(run_dir) / protocol.OUTPUTS
    return [_entry(root, ref.path, src) for ref, src in declared_outputs(spec)]


def _entry(root: Path, name: str, src: str) -> OutputEntry:
    try:
        st = safefs.lstat(root, src)
        if st is not None and stat.S_ISREG(st.st_mode):
            return OutputEntry(name=name, src=src, files=[OutputFile(path=src, size=st.st_size)])
        if st is not None and stat.S_ISDIR(st.st_mode):
            files = [OutputFile(path=path, size=size) for path, size in safefs.walk_files(root, src)]
            return OutputEntry(name=name, src=src, is_dir=True, files=files)
    except (FileNotFoundError, safefs.NotRegular):
        pass
    return OutputEntry(name=name, src=src, missing=True)  # absent, a symlink, or a special file


def check_output_path(rel: str) -> str:
    """A path as the outputs manifest gives them: relative, inside `outputs/`, no `..`."""
    if "\x00" in rel or rel.startswith(("/", "\\")) or any(p in ("..", ".") for p in re.split(r"[/\\]", rel)):
        raise JobsError(f"output path {rel!r} is not a relative path inside the outputs",
                        hint="use a path from the outputs manifest")
    return rel


def open_output(outputs_root: Path, rel: str) -> BinaryIO:
    """One output file for reading: a regular file under `outputs/`, reached without symlinks."""
    check_output_path(rel)
    try:
        return safefs.open_file(outputs_root, rel)
    except (FileNotFoundError, safefs.NotRegular):
        raise NotFound(f"no output file {rel!r}", hint="see the outputs manifest") from None
