"""Bringing a finished job's results back: a notebook run's executed notebook (under the one name every
front door shows), a cell job's `--outputs` files and `--out` variables, a failed cell's traceback."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from ..runner.nbexec import load_value
from ..runner.protocol import (
    EXECUTED_NOTEBOOK_VAR,
    JOB_DIR,
    JOB_OUT_DIR,
    VARIABLES_FILE,
    EventType,
    is_executed_notebook,
)


def staging_output(notebook: str | os.PathLike) -> Path:
    """Where the executed notebook is declared to come back when no output path is given: the run id
    (in its final name, `default_output`) is only known after the submit."""
    path = Path(notebook).resolve()
    return path.with_name(f"{path.stem}.job-output.ipynb")


def default_output(notebook: str | os.PathLike, run_id: str) -> Path:
    path = Path(notebook).resolve()
    return path.with_name(f"{path.stem}-{run_id}.ipynb")


def executed_notebook_path(run, output_dir: Path | None = None, declared: bool | None = None) -> Path | None:
    """Where a notebook run's executed notebook comes back: the output path it was given (`run
    out.ipynb`, `-o`), else `NAME-RUNID.ipynb` beside the notebook; under `output_dir`, that file name.
    A fork (a child that is not a retry) takes the latter unless `declared` (`fork --force`): it never
    takes its parent's place. None for other runs. The run-dir location (`_outputs/OUTPUT_NOTEBOOK/...`)
    is never a name the user sees."""
    if declared is None:
        declared = not (run.parent_id and run.attempt == 1)
    ref = next((r for r in run.spec.outputs if r.var == EXECUTED_NOTEBOOK_VAR), None)
    if ref is None:
        return None
    source = run.origin.source
    path = Path(ref.path)
    if source and (not declared or path == staging_output(source)):
        path = default_output(source, run.id)
    return Path(output_dir) / path.name if output_dir is not None else path


def run_json(run) -> dict:
    """A run as `get` and `list --format json` print it: a notebook run's executed notebook under its one
    name (`executed_notebook`, also as its output entry and its spec's declared output), never the
    staging path or the run-dir location (`_outputs/OUTPUT_NOTEBOOK/...`). Other runs: None there."""
    data = run.model_dump(mode="json")
    path = executed_notebook_path(run)
    data["executed_notebook"] = str(path) if path is not None else None
    if path is None:
        return data
    for ref in data["spec"]["outputs"]:
        if ref.get("var") == EXECUTED_NOTEBOOK_VAR:
            ref["path"] = str(path)
    for entry in data["outputs"]:
        if entry["executed_notebook"]:
            entry.update(name=str(path), src=str(path))
            for file in entry["files"]:
                file["path"] = str(path)
    return data


def split_outputs(run):
    """(the executed notebook's output entry or None, the run with only its other outputs)."""
    notebook = next((e for e in run.outputs if is_executed_notebook(e.src)), None)
    return notebook, run.model_copy(update={"outputs": [e for e in run.outputs if e is not notebook]})


def download_executed_notebook(client, run, dest: Path) -> Path | None:
    """Bring the executed notebook back to `dest` (whole or not at all); None when there is none."""
    entry, _ = split_outputs(run)
    if entry is None or entry.missing or run.data_deleted:
        return None
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".jupyter-jobs-") as tmp:
        report = client.download_outputs(run.model_copy(update={"outputs": [entry]}), Path(tmp), max_bytes=1 << 62)
        if not report.files:
            return None
        os.replace(report.files[0], dest)
    return dest


def failure_traceback(events: list[dict]) -> str | None:
    """The failed cell's traceback as papermill's PapermillExecutionError states it (its own class
    formats it: `Exception encountered at "In [N]"` and the kernel's traceback, colours stripped)."""
    from papermill.exceptions import PapermillExecutionError

    frame = next((e for e in reversed(events) if e.get("type") == EventType.DISPLAY
                  and e.get("msg_type") == "error"), None)
    if frame is None:
        return None
    error = PapermillExecutionError(frame.get("cell"), frame.get("execution_count"), "", frame.get("ename"),
                                    frame.get("evalue"), frame.get("traceback") or [])
    return str(error).strip("\n")


def internal_output(entry) -> bool:
    """The run's own files (a cell job's `.jobs/`), never shown as outputs."""
    return entry.src == JOB_DIR or entry.src.startswith(JOB_DIR + "/") or entry.name.startswith(JOB_DIR + "/")


def download_files(client, run) -> tuple[list[Path], list[str]]:
    """The job's `--outputs`, to their paths relative to the folder the job was submitted from."""
    user = [e for e in run.outputs if not internal_output(e) and not is_executed_notebook(e.src)]
    if not user or run.data_deleted:
        return [], []
    report = client.download_outputs(run.model_copy(update={"outputs": user}))
    notes = [f"output {name} was not produced by the job" for name in report.missing]
    notes += report.refused
    if report.skipped:
        notes.append(f"skipped {len(report.skipped)} output file{'s' if len(report.skipped) != 1 else ''} over "
                     f"the download limit; "
                     f"use `jupyter jobs download-files --id {run.id}`")
    return report.files, notes


def load_variables(client, run, names: list[str] | None = None) -> tuple[dict, list[str]]:
    """The `--out` variables of a succeeded cell job (all of them, or `names`), loaded typed."""
    entry = next((e for e in run.outputs if e.src == JOB_OUT_DIR), None)
    if entry is None or entry.missing or run.data_deleted:
        return {}, ([f"job {run.id} has no variables to bring back"] if names else [])
    with tempfile.TemporaryDirectory(prefix="jupyter-jobs-vars-") as tmp:
        manifest_entry = entry.model_copy(update={"files": [f for f in entry.files if f.path.endswith(
            "/" + VARIABLES_FILE)]})
        client.download_outputs(run.model_copy(update={"outputs": [manifest_entry]}), Path(tmp))
        manifest_path = Path(tmp) / JOB_OUT_DIR / VARIABLES_FILE
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
                values[name] = load_value(str(Path(tmp) / JOB_OUT_DIR / info["file"]), info["format"])
    return values, notes
