"""Turn a submit request into the runner's plan: where each file lands, the command with its
`${VAR}`s filled in, the job's environment. Paths are those the runner sees."""

from __future__ import annotations

import re
from pathlib import Path

from ..executors import Executor
from ..runner import layout
from ..settings import JobsSettings
from ..spec.bundle import input_dest, output_dest
from .blobs import BlobStore
from .schemas import SubmitRequest

_VAR_REF = re.compile(r"\$\{([^}]*)\}")


def build_plan(run_id: str, request: SubmitRequest, run_dir: Path, blobs: BlobStore,
               settings: JobsSettings, executor: Executor) -> dict:
    """Every path in the plan is mapped by the executor to where its runner sees it."""
    spec, bundle = request.spec, request.bundle
    where = executor.map_path
    work = Path(where(run_dir / layout.WORK))
    blob = lambda sha: where(blobs.path(sha))  # noqa: E731
    values: dict[str, str] = dict(spec.args)
    inputs = []
    by_ref = {item.ref: item for item in bundle.inputs}
    for ref in spec.inputs:
        dest = input_dest(ref)
        if ref.var:
            values[ref.var] = str(work / dest)
        item = by_ref.get(ref.path)
        for f in item.files if item else []:
            target = f"{dest}/{f.path}" if f.path else dest
            if f.sha256 is None:
                inputs.append({"dest": target, "dir": True})
            else:
                inputs.append({"dest": target, "blob": blob(f.sha256), "mode": f.mode,
                               "size": f.size})
    for f in bundle.code.files if bundle.code else []:
        inputs.append({"dest": f.path, "blob": blob(f.sha256), "mode": f.mode, "size": f.size})
    outputs, output_dirs = [], set()
    for ref in spec.outputs:
        dest = output_dest(ref)
        if ref.var:
            values[ref.var] = str(work / dest)
        outputs.append({"name": ref.path, "src": dest})
        output_dirs.add(dest if ref.path.endswith("/") else str(Path(dest).parent))
    for refs, table in ((spec.datasets, settings.datasets), (spec.s3_mounts, settings.s3_mounts)):
        for ref in refs:
            values[ref.var or ref.id] = table[ref.id]
    for ds in spec.output_datasets:
        folder = Path(settings.data_dir) / "output-datasets" / ds.name
        folder.mkdir(parents=True, exist_ok=True)
        values[ds.var] = str(folder)
    env = dict(spec.env.vars)
    notes = []
    if spec.attach_project_disk:
        seen_as, note = executor.project_path(project_dir(request, settings))
        values["DS_PROJECT_HOME"] = env["DS_PROJECT_HOME"] = seen_as
        notes.append(note)
    if spec.working_storage:
        notes.append(f"working-storage of {spec.working_storage.size_gb} GiB: the job uses this machine's disk")
    cmd = _VAR_REF.sub(lambda m: values.get(m.group(1), m.group(0)), spec.cmd)
    return {
        "run_id": run_id,
        "cmd": cmd,
        "work_dir": str(work),
        "inputs": inputs,
        "outputs": outputs,
        "output_dirs": sorted(d for d in output_dirs if d not in ("", ".")),
        "env": env,
        "graceful": {"signal": spec.graceful_shutdown.signal, "timeout": spec.graceful_shutdown.timeout_s},
        "timeout": spec.timeout_s,
        "keep_workdir": settings.keep_workdir,
        "notes": notes,
        "python": _python(bundle.python, settings, where, executor),
    }


def project_dir(request: SubmitRequest, settings: JobsSettings) -> str:
    """`${DS_PROJECT_HOME}` on the service's machine: the operator's project dir (the Jupyter server's
    root), else the submitter's project, else the config file's folder."""
    return settings.project_dir or request.origin.project_dir or request.origin.base_dir or "."


def _python(lock: dict | None, settings: JobsSettings, where, executor: Executor) -> dict | None:
    """Where the runner builds or finds the job's environment (cached by lock, built with uv)."""
    if lock is None:
        return None
    from ..pyenv.cache import find_uv

    return {"lock": lock, "cache_root": where(Path(settings.data_dir) / "envs"), "uv": where(Path(find_uv())),
            "max_bytes": int(settings.env_cache_max_gb * (1 << 30)) or None,
            # added to a failed build's message, e.g. a container without network (docker executor)
            "hint": executor.env_build_hint()}
