"""Turn a submit request into the runner's plan: where each file lands, the command with its
`${VAR}`s filled in, the job's environment. Paths are those the runner sees."""

from __future__ import annotations

import re
from pathlib import Path

from ..executors import Executor
from ..runner import protocol
from ..runner.protocol import Graceful, Mount, Plan, PlanInput, PlanOutput
from ..settings import JobsSettings
from ..spec.bundle import input_dest
from .blobs import BlobStore
from .outputs import declared_outputs
from .schemas import SubmitRequest

_VAR_REF = re.compile(r"\$\{([^}]*)\}")


def build_plan(run_id: str, request: SubmitRequest, run_dir: Path, blobs: BlobStore,
               settings: JobsSettings, executor: Executor) -> Plan:
    """Every path in the plan is mapped by the executor to where its runner sees it."""
    spec, bundle = request.spec, request.bundle
    where = executor.map_path
    work = Path(where(run_dir / protocol.WORK))
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
                inputs.append(PlanInput(dest=target, dir=True))
            else:
                inputs.append(PlanInput(dest=target, blob=blob(f.sha256), mode=f.mode, size=f.size))
    for f in bundle.code.files if bundle.code else []:
        inputs.append(PlanInput(dest=f.path, blob=blob(f.sha256), mode=f.mode, size=f.size))
    outputs, output_dirs = [], set()
    for ref, dest in declared_outputs(spec):
        if ref.var:
            values[ref.var] = str(work / dest)
        outputs.append(PlanOutput(name=ref.path, src=dest))
        output_dirs.add(dest if ref.path.endswith("/") else str(Path(dest).parent))
    mounts: list[Mount] = []

    def folder(host: str, name: str, mode: str) -> str:
        """A folder of this machine the job uses, as the executor's runner sees it."""
        inside = executor.folder_path(host, re.sub(r"[^A-Za-z0-9._-]", "_", name))
        mounts.append(Mount(host=host, inside=inside, mode=mode))
        return inside

    for kind, refs, table, mode in (("datasets", spec.datasets, settings.datasets, "ro"),
                                    ("s3", spec.s3_mounts, settings.s3_mounts, "rw")):
        for ref in refs:
            values[ref.var or ref.id] = folder(table[ref.id], f"{kind}-{ref.id}", mode)
    for ds in spec.output_datasets:
        out = Path(settings.data_dir) / "output-datasets" / ds.name
        out.mkdir(parents=True, exist_ok=True)
        values[ds.var] = folder(str(out), f"output-{ds.name}", "rw")
    env = dict(spec.env.vars)
    notes = []
    if spec.attach_project_disk:
        project = settings.project_dir or request.origin.project_dir or request.origin.base_dir or "."
        values["DS_PROJECT_HOME"] = env["DS_PROJECT_HOME"] = folder(project, "project", "ro")
        notes.append(f"${{DS_PROJECT_HOME}} is {project}" + (
            ", mounted read-only" if executor.enforces_read_only else
            f"; the {executor.name} executor cannot make it read-only"))
    if spec.working_storage:
        notes.append(f"working-storage of {spec.working_storage.size_gb} GiB: the job uses this machine's disk")
    cmd = _VAR_REF.sub(lambda m: values.get(m.group(1), m.group(0)), spec.cmd)
    return Plan(
        run_id=run_id, cmd=cmd, work_dir=str(work), inputs=inputs, outputs=outputs,
        output_dirs=sorted(d for d in output_dirs if d not in ("", ".")), env=env,
        graceful=Graceful(signal=spec.graceful_shutdown.signal, timeout=spec.graceful_shutdown.timeout_s),
        timeout=spec.timeout_s, keep_workdir=settings.keep_workdir, notes=notes, mounts=mounts,
        python=_python(bundle.python, settings, where, executor),
    )


def _python(lock: dict | None, settings: JobsSettings, where, executor: Executor) -> dict | None:
    """Where the runner builds or finds the job's environment (cached by lock, built with uv)."""
    if lock is None:
        return None
    from ..pyenv.cache import find_uv

    return {"lock": lock, "cache_root": where(Path(settings.data_dir) / "envs"), "uv": where(Path(find_uv())),
            "max_bytes": int(settings.env_cache_max_gb * (1 << 30)) or None,
            # added to a failed build's message, e.g. a container without network (docker executor)
            "hint": executor.env_build_hint()}
