"""Bringing a finished cell job's results back: `--outputs` files and `--out` variables."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from ..runner.nbexec import load_value
from .build import JOB_DIR, OUT_DIR


def _internal(entry) -> bool:
    return entry.src == JOB_DIR or entry.src.startswith(JOB_DIR + "/") or entry.name.startswith(JOB_DIR + "/")


def download_files(client, run) -> tuple[list[Path], list[str]]:
    """The job's `--outputs`, to their paths relative to the folder the job was submitted from."""
    user = [e for e in run.outputs if not _internal(e) and e.src != "_outputs/OUTPUT_NOTEBOOK"
            and not e.src.startswith("_outputs/OUTPUT_NOTEBOOK/")]
    if not user or run.data_deleted:
        return [], []
    report = client.download_outputs(run.model_copy(update={"outputs": user}))
    notes = [f"output {name} was not produced by the job" for name in report.missing]
    if report.skipped:
        notes.append(f"skipped {len(report.skipped)} output files over the download limit; "
                     f"use `jupyter jobs download-files --id {run.id}`")
    return report.files, notes


def load_variables(client, run, names: list[str] | None = None) -> tuple[dict, list[str]]:
    """The `--out` variables of a succeeded cell job (all of them, or `names`), loaded typed."""
    entry = next((e for e in run.outputs if e.src == OUT_DIR), None)
    if entry is None or entry.missing or run.data_deleted:
        return {}, ([f"job {run.id} has no variables to bring back"] if names else [])
    with tempfile.TemporaryDirectory(prefix="jupyter-jobs-vars-") as tmp:
        manifest_entry = entry.model_copy(update={"files": [f for f in entry.files if f.path.endswith(
            "/variables.json")]})
        client.download_outputs(run.model_copy(update={"outputs": [manifest_entry]}), Path(tmp))
        manifest_path = Path(tmp) / OUT_DIR / "variables.json"
        if not manifest_path.exists():
            return {}, [f"job {run.id} wrote no variables"]
        manifest = json.loads(manifest_path.read_text())
        wanted = {n: manifest.get(n) for n in (names if names is not None else manifest)}
        files = {info["file"] for info in wanted.values() if info and "file" in info}
        chosen = entry.model_copy(update={"files": [f for f in entry.files if f.path.rsplit("/", 1)[-1] in files]})
        client.download_outputs(run.model_copy(update={"outputs": [chosen]}), Path(tmp), max_bytes=1 << 62)
        values, notes = {}, []
        for name, info in wanted.items():
            if info is None:
                notes.append(f"{name} was not brought back (not named with --out)")
            elif "error" in info:
                notes.append(f"{name}: {info['error']}")
            else:
                values[name] = load_value(str(Path(tmp) / OUT_DIR / info["file"]), info["format"])
    return values, notes
