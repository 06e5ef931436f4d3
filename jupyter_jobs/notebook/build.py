"""Cell and notebook jobs as JobSpec + Bundle: code, variables, inputs and a Python lock.

Both kinds run `.jobs/nbexec.py` (jupyter_jobs/runner/nbexec.py, shipped as a bundle file) with the
job's own Python, in an environment detected from the code's imports and pinned to the submitting
interpreter (the kernel's, for magics), plus what the executor needs (IPython; papermill and ipykernel
for notebooks). Variables travel as bundle inputs under `.jobs/in/`; results come back from the run's
`.jobs/out/` output folder.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from ..capture.files import Captured, capture_inputs, capture_python
from ..errors import JobsError
from ..pyenv.cache import pip_options
from ..pyenv.imports import Import, parse_imports
from ..pyenv.lock import EnvLock
from ..runner import protocol
from ..spec.bundle import output_dest
from ..spec.models import DockerImage, Env, FileRef, JobSpec, PythonEnv
from .parameters import check_parameters

_RUNNER = Path(__file__).resolve().parent.parent / "runner"
#: The in-job executor and the contracts it imports, shipped as bundle files.
_SHIPPED = {protocol.NBEXEC_FILE: _RUNNER / "nbexec.py", protocol.PROTOCOL_FILE: _RUNNER / "protocol.py"}
CMD = f"python {protocol.NBEXEC_FILE} {protocol.JOB_FILE}"


@dataclass
class Options:
    """What `%%job` / `jupyter jobs run` were asked (None / empty = the default)."""

    name: str | None = None
    desc: str | None = None
    instance: str | None = None
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    in_vars: list[str] = field(default_factory=list)
    out_vars: list[str] = field(default_factory=list)
    docker: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    requirements: str | None = None
    pip: list[str] = field(default_factory=list)
    executor: str | None = None
    timeout: float | None = None
    #: Notebook runs: warn (as papermill) instead of refusing parameters the notebook does not take.
    lenient: bool = False


@dataclass
class Prepared:
    spec: JobSpec
    captured: Captured
    lock: EnvLock
    base_dir: Path
    #: Lines worth telling the user (what was detected, what is sent).
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sent: dict[str, dict] = field(default_factory=dict)
    #: A notebook run's parameters (as job.json has them).
    parameters: dict = field(default_factory=dict)
    tmp: tempfile.TemporaryDirectory | None = None

    def cleanup(self) -> None:
        if self.tmp is not None:
            self.tmp.cleanup()
            self.tmp = None


# -- environment -------------------------------------------------------------------------------------------
_PROBES: dict[str, tuple[tuple, dict]] = {}


def _probe(python: str | None) -> dict:
    """The interpreter's installed packages, cached until a folder on its sys.path changes."""
    from ..pyenv.probe import probe_environment

    python = python or sys.executable
    signature: tuple = ()
    if os.path.abspath(python) == os.path.abspath(sys.executable):
        signature = tuple((p, os.stat(p).st_mtime_ns) for p in sys.path if p and os.path.isdir(p))
    cached = _PROBES.get(python)
    if cached and cached[0] == signature and signature:
        return cached[1]
    env = probe_environment(python)
    _PROBES[python] = (signature, env)
    return env


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(line: str) -> str:
    return _normalise(re.split(r"[\s<>=!~;\[@]", line.strip(), maxsplit=1)[0])


def detect_env(sources: list[str], base: Path, modules: list[str], options: Options,
               python: str | None = None) -> EnvLock:
    """Lock for code `sources` run from `base`, plus the top-level `modules` the executor needs."""
    from ..pyenv.resolve import _Resolver  # the resolver's steps, fed source text instead of files

    env = _probe(python)
    resolver = _Resolver(base.resolve(), env)
    for index, source in enumerate(sources):
        try:
            found = parse_imports(source, f"<cell {index + 1}>", None)
        except SyntaxError as exc:
            resolver.warnings.append(f"cell {index + 1} does not parse ({exc.msg}); its imports are unknown")
            continue
        for imp in found:
            resolver._import(imp, f"cell {index + 1}:{imp.line}" if len(sources) > 1 else f"line {imp.line}",
                             resolver.roots)
    while resolver.queue:
        resolver._scan(*resolver.queue.pop())
    user = resolver._result()
    # What the executor itself needs, pinned the same way (separately, to merge with a requirements file).
    extra = _Resolver(base.resolve(), env)
    wanted = list(modules)
    if "pandas" in resolver.third_party or "pandas" in modules:
        wanted.append("pyarrow")  # DataFrames travel as Parquet when it is there
    for module in wanted:
        if module in env["packages"]:
            extra._import(Import(module, (), 0, False), "jupyter-jobs", extra.roots)
    executor_pins = extra._result().requirements

    lock = EnvLock(python=user.python_version)
    if options.requirements:
        from ..pyenv.detect import _digest
        from ..pyenv.requirements import parse_requirements

        reqs = parse_requirements(base / options.requirements, base)
        named = {_requirement_name(line) for line in reqs.lines}
        lock.requirements = reqs.lines + [p for p in executor_pins if _requirement_name(p) not in named]
        lock.constraints = reqs.constraints
        lock.pip = pip_options(reqs.options)
        lock.sources = {path: _digest(base / path) for path in reqs.local_paths}
    else:
        lock.requirements = sorted(set(user.requirements) | set(executor_pins), key=str.lower)
    if options.pip:
        named = {_requirement_name(line) for line in options.pip}
        lock.requirements = [r for r in lock.requirements if _requirement_name(r) not in named] + list(options.pip)
    lock.local_files = user.local_files
    lock.extra_files = user.extra_files
    lock.python_paths = user.python_paths
    lock.optional, lock.optional_missing = user.optional, user.optional_missing
    listed = {_requirement_name(line) for line in lock.requirements}  # named with --pip / --requirements
    lock.unresolved = {m: where for m, where in user.unresolved.items() if _normalise(m) not in listed}
    lock.warnings = user.warnings
    return lock


def _lock_warnings(lock: EnvLock) -> list[str]:
    out = []
    for module, where in lock.unresolved.items():
        out.append(f"`import {module}` ({', '.join(where)}) is neither installed here nor local; "
                   f"the job may fail to import it (add it with --pip)")
    return out + list(lock.warnings)


# -- spec and bundle -----------------------------------------------------------------------------------
def _user_refs(paths: list[str], flag: str) -> list[FileRef]:
    """`--inputs`/`--outputs` paths as FileRefs; one the spec refuses (outside this folder, a control
    character) is one line naming the flag."""
    refs = []
    for path in paths:
        try:
            refs.append(FileRef(path=path))
        except ValidationError as exc:
            raise JobsError(f"{flag} {path!r}: {exc.errors()[0]['msg'].removeprefix('Value error, ')}",
                            hint="give files inside this folder (or below it)") from None
    return refs


def _spec(options: Options, kind: str, name: str, inputs: list[FileRef], outputs: list[FileRef]) -> JobSpec:
    values = {"name": options.name or name, "desc": options.desc, "kind": kind, "cmd": CMD,
              "inputs": inputs, "outputs": outputs,
              "env": Env(vars=dict(options.env), python=PythonEnv(type="auto"),
                         docker=DockerImage(image=options.docker) if options.docker else None),
              "timeout_s": options.timeout}
    if options.instance:
        values["instance_types"] = [options.instance]
    return JobSpec(**values)


def _capture(prepared_inputs: list[FileRef], base: Path, var_refs: list[FileRef], tmp: Path, settings,
             lock: EnvLock, job: dict) -> Captured:
    captured = capture_inputs(prepared_inputs, base, settings.max_file_size, settings.max_upload_size)
    if var_refs:
        variables = capture_inputs(var_refs, tmp, settings.max_file_size, settings.max_upload_size)
        captured.bundle.inputs += variables.bundle.inputs
        captured.sources.update(variables.sources)
    (tmp / "job.json").write_text(json.dumps(job, default=str))
    capture_python(lock, base, captured, {**_SHIPPED, protocol.JOB_FILE: tmp / "job.json"})
    return captured


def prepare_cell(source: str, transformed: str, user_ns: dict, hidden: set[str], options: Options, settings,
                 base: Path | None = None, python: str | None = None, execution_count: int | None = None,
                 cell_names: dict[str, int] | None = None) -> Prepared:
    """A `%%job` cell: detect what it reads and imports, write its variables, build spec and bundle.
    `cell_names` (the kernel compiler's file name -> execution count) lets the job's traceback name
    the kernel cells the functions it was sent come from (`Cell In[N]`), with their lines."""
    import ast
    import linecache

    from .variables import VariableError, choose, code_files, free_names, write_variables

    base = Path(base or os.getcwd()).resolve()
    try:
        tree = ast.parse(transformed)
    except SyntaxError as exc:
        raise JobsError(f"the cell does not parse: {exc.msg} (line {exc.lineno})") from None
    for name in options.out_vars:
        if not name.isidentifier():
            raise VariableError(f"--out {name!r} is not a variable name")
    sent = choose(free_names(tree), options.in_vars, user_ns, hidden)
    tmp = tempfile.TemporaryDirectory(prefix="jupyter-jobs-cell-")
    try:
        folder = Path(tmp.name)
        written = write_variables(sent, folder / protocol.JOB_IN_DIR, settings.max_file_size)
        modules = ["IPython"] + sorted(sent.modules)
        if sent.variables or options.out_vars:
            modules.append("cloudpickle")
        lock = detect_env([transformed, "\n".join(sent.prelude)], base, modules, options, python)
        job = {"mode": "cell", "source": source, "prelude": "\n".join(sent.prelude),
               "inputs": {name: {"path": f"{protocol.JOB_IN_DIR}/{info['file']}", "format": info["format"]}
                          for name, info in written.items()},
               "outputs": list(options.out_vars), "out_budget": settings.max_download_size,
               "execution_count": execution_count,
               "cells": {name: {"count": (cell_names or {})[name], "lines": linecache.getlines(name)}
                         for name in sorted(code_files(sent.variables.values())) if name in (cell_names or {})}}
        var_refs = [FileRef(path=f"{protocol.JOB_IN_DIR}/{info['file']}") for info in written.values()]
        user_inputs = _user_refs(options.inputs, "--inputs")
        spec = _spec(options, "cell", "cell", user_inputs + var_refs,
                     _user_refs(options.outputs, "--outputs") + [FileRef(path=f"{protocol.JOB_OUT_DIR}/")])
        captured = _capture(user_inputs, base, var_refs, folder, settings, lock, job)
    except BaseException:
        tmp.cleanup()
        raise
    prepared = Prepared(spec=spec, captured=captured, lock=lock, base_dir=base, sent=written, tmp=tmp)
    prepared.warnings = _lock_warnings(lock)
    if written:
        prepared.notes.append("sending " + ", ".join(f"{n} ({i['type']}, {i['size']} B)" for n, i in written.items()))
    return prepared


# -- notebooks -------------------------------------------------------------------------------------------
def _as_python(source: str) -> str:
    """A cell as Python for import detection: IPython's input transforms (magics, `!cmd`) applied when
    it is not plain Python already (they leave plain Python as it is), so a notebook of plain cells does
    not import IPython here."""
    import ast

    try:
        ast.parse(source)
        return source
    except (SyntaxError, ValueError):
        pass
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(source)
    except Exception:
        return source


def prepare_notebook(path: str | os.PathLike, parameters: dict, options: Options, settings, output: Path,
                     python: str | None = None) -> Prepared:
    """A notebook run with papermill in the job; `output` is where the executed notebook comes back."""
    from .papermill_parts import read_notebook

    nb_path = Path(path).resolve()
    if not nb_path.is_file():
        raise JobsError(f"notebook {path} not found")
    try:
        nb = read_notebook(nb_path)  # as papermill reads it (every cell gets its tags list)
    except Exception as exc:
        raise JobsError(f"{path} is not a notebook: {exc}") from None
    checked = check_parameters(nb, nb_path, parameters, options.lenient)
    base = nb_path.parent
    sources = [_as_python(cell.source) for cell in nb.cells if cell.cell_type == "code"]
    tmp = tempfile.TemporaryDirectory(prefix="jupyter-jobs-nb-")
    try:
        lock = detect_env(sources, base, ["papermill", "ipykernel", "IPython"], options, python)
        out_ref = FileRef(path=str(Path(output).resolve()), var=protocol.EXECUTED_NOTEBOOK_VAR)
        job = {"mode": "notebook", "notebook": nb_path.name, "output": output_dest(out_ref),
               "parameters": parameters}
        user_inputs = [FileRef(path=nb_path.name)] + _user_refs(
            [p for p in options.inputs if Path(p) != Path(nb_path.name)], "--inputs")
        spec = _spec(options, "notebook", nb_path.stem, user_inputs,
                     [out_ref] + _user_refs(options.outputs, "--outputs"))
        spec.args = {}
        captured = _capture(user_inputs, base, [], Path(tmp.name), settings, lock, job)
    except BaseException:
        tmp.cleanup()
        raise
    prepared = Prepared(spec=spec, captured=captured, lock=lock, base_dir=base, tmp=tmp, parameters=parameters)
    prepared.warnings = checked + _lock_warnings(lock)
    return prepared
