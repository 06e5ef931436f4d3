"""Ship the runner into any environment as one zipapp file, without the jupyter_jobs package.

The runner (`jupyter_jobs/runner/`) is standard library only, but lives inside a package whose other
modules need pydantic, SQLAlchemy, ... An engine's node (a Ray worker, a Slurm compute node) has a
Python, not our package. `runner_zipapp()` packs exactly the modules the runner imports (found by
following its imports from `runner/__main__.py`) under empty package `__init__`s, and
`runner_command()` starts it as `python3 RUNNER.pyz RUN_DIR`: the archive is on the runner's own
`sys.path` only, so nothing of jupyter_jobs reaches the job's path or environment.
"""

from __future__ import annotations

import ast
import hashlib
import os
import zipfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent  # jupyter_jobs/
ENTRY = "runner/__main__.py"

#: The zipapp's entry. A runner that cannot start at all (a Python too old for it, a broken
#: interpreter) still leaves result.json saying why, so the run ends FAILED with a reason, not LOST.
MAIN = '''\
import json, os, sys, traceback
try:
    from jupyter_jobs.runner.entry import main
except BaseException as exc:
    traceback.print_exc()
    result = os.path.join(sys.argv[-1], "result.json")  # runner/protocol.py RESULT
    if os.path.isdir(sys.argv[-1]) and not os.path.exists(result):
        with open(result, "w") as fh:
            json.dump({"status": "FAILED", "exit_code": None, "outputs": [],
                       "error": "the runner could not start with " + sys.executable + " ("
                                + sys.version.split()[0] + "): " + repr(exc)}, fh)
    sys.exit(1)
sys.exit(main())
'''


def runner_modules() -> list[str]:
    """Paths (relative to jupyter_jobs/) of the modules the runner imports, directly or not."""
    found: set[str] = set()
    todo = [ENTRY]
    while todo:
        rel = todo.pop()
        if rel in found:
            continue
        found.add(rel)
        tree = ast.parse((PACKAGE / rel).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                todo.extend(_targets(rel, node))
            elif isinstance(node, ast.Import):
                todo.extend(_module_file(a.name.split(".")[1:]) for a in node.names
                            if a.name.startswith("jupyter_jobs."))
    return sorted(r for r in found if r)


def _targets(rel: str, node: ast.ImportFrom) -> list[str]:
    """The package files an ImportFrom in `rel` loads (a name imported from a package may be a module)."""
    if node.level:
        base = Path(rel).parent.parts[: len(Path(rel).parent.parts) - (node.level - 1)]
        parts = [*base, *(node.module.split(".") if node.module else [])]
    elif node.module and node.module.startswith("jupyter_jobs."):
        parts = node.module.split(".")[1:]
    else:
        return []
    out = [_module_file(parts)]
    for alias in node.names:
        candidate = _module_file([*parts, alias.name])
        if (PACKAGE / candidate).is_file():
            out.append(candidate)
    return [t for t in out if t]


def _module_file(parts: list[str]) -> str:
    path = Path(*parts) if parts else Path()
    if (PACKAGE / path).is_dir():
        return ""  # a package: its __init__ is replaced by an empty one in the archive
    return f"{path}.py"


def runner_files() -> dict[str, bytes]:
    """Archive name -> content: the runner's modules, empty package inits, the entry point."""
    files = {"__main__.py": MAIN.encode()}
    for rel in runner_modules():
        files[f"jupyter_jobs/{rel}"] = (PACKAGE / rel).read_bytes()
        for parent in Path(rel).parents:
            files.setdefault(f"jupyter_jobs/{parent}/__init__.py".replace("/./", "/"), b"")
    return files


def runner_zipapp(folder: Path) -> Path:
    """The runner as `folder/jupyter-jobs-runner-<hash>.pyz`, built once per content (a changed runner
    gets a new name, so a run already started keeps the archive it started with)."""
    files = runner_files()
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name] + b"\0")
    path = Path(folder) / f"jupyter-jobs-runner-{digest.hexdigest()[:16]}.pyz"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name], zipfile.ZIP_DEFLATED)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


def runner_command(python: str, zipapp: str, run_dir: str, supervised: bool = False,
                   relay: bool = False) -> list[str]:
    """argv that starts the shipped runner on `run_dir` (paths as the runner's machine sees them).
    `supervised`: the runner and its job end when the process that started it ends (Ray's supervisor).
    `relay`: `run_dir` is the staging folder and the run is relayed through stdout (runner/relay.py)."""
    return [python, zipapp, *(["--supervised"] if supervised else []), *(["--relay"] if relay else []), run_dir]
