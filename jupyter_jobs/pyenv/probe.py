"""What an interpreter has installed, read from distribution metadata files (standard library only).

Detection must describe the interpreter the user's code runs under (a kernel's venv, say), which need
not be the one running jupyter-jobs, so this file also runs as a script under that interpreter and
prints JSON. It reads files only; no installed or user code is imported. Headers are read with a regex
instead of `Distribution.metadata` (an email parser), which is five times faster on a big environment.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import json
import os
import re
import subprocess
import sys

_HEADER = re.compile(r"^(Name|Version):[ \t]*(.+?)[ \t]*$", re.M)
_NOT_CODE = {"__pycache__", "setup", "conftest", "tests", "test", "docs", "build", "dist"}


def _headers(dist: metadata.Distribution) -> dict[str, str]:
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    return dict(_HEADER.findall(text.split("\n\n", 1)[0]))


def _record_tops(record: str) -> set[str]:
    """Top-level importable names from the paths a wheel installed."""
    tops = set()
    for line in record.splitlines():
        path = line.split(",", 1)[0]
        first, sep, _ = path.partition("/")
        if not sep:
            if path.endswith(".py"):
                tops.add(path[:-3])
            elif path.endswith((".so", ".pyd")):
                tops.add(path.split(".", 1)[0])
        elif not first.endswith((".dist-info", ".data")) and first not in {"__pycache__", ".."}:
            tops.add(first)
    return {top for top in tops if "." not in top and not top.startswith("__editable__")}


def _editable_sources(dist: metadata.Distribution, record: str) -> dict[str, str]:
    """Top-level name -> source path of an editable install (setuptools finder or `.pth` folder)."""
    sources: dict[str, str] = {}
    for line in record.splitlines():
        path = line.split(",", 1)[0]
        if "/" in path:
            continue
        text = _read(str(dist.locate_file(path)))
        if path.startswith("__editable__") and path.endswith("_finder.py"):
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "MAPPING" for t in node.targets):
                    sources.update(ast.literal_eval(node.value))
        elif path.endswith(".pth"):
            for folder in (p.strip() for p in text.splitlines()):
                if not folder or folder.startswith(("#", "import")) or not os.path.isdir(folder):
                    continue
                for entry in sorted(os.listdir(folder)):
                    name, ext = os.path.splitext(entry)
                    full_entry = os.path.join(folder, entry)
                    is_package = os.path.isfile(os.path.join(full_entry, "__init__.py"))
                    if name not in _NOT_CODE and (is_package or (ext == ".py" and os.path.isfile(full_entry))):
                        sources.setdefault(name, full_entry)
    return sources


def _subnames(record: str, top: str) -> list[str]:
    """Second-level names a distribution installs under a shared namespace (`google.protobuf`)."""
    paths = (line.split(",", 1)[0] for line in record.splitlines())
    return sorted({p.split("/")[1].split(".")[0] for p in paths if p.startswith(top + "/")})


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return ""


def collect() -> dict:
    """Python version, stdlib names and installed distributions of the running interpreter."""
    versions: dict[str, str] = {}
    direct: dict[str, dict] = {}
    packages: dict[str, list[str]] = {}
    records: dict[str, str] = {}
    editable: dict[str, str] = {}
    for dist in metadata.distributions():
        headers = _headers(dist)
        name = headers.get("Name")
        if not name or name in versions:  # the first one on sys.path wins, as for imports
            continue
        versions[name] = headers.get("Version", "")
        info = json.loads(dist.read_text("direct_url.json") or "null")
        record = records[name] = dist.read_text("RECORD") or ""
        if info is not None:
            direct[name] = info
        if info and info.get("dir_info", {}).get("editable"):
            sources = _editable_sources(dist, record)
            editable.update(sources)
            tops = set(sources)
        else:
            top_level = dist.read_text("top_level.txt")
            tops = set(top_level.split()) if top_level else _record_tops(record)
        for top in tops:
            packages.setdefault(top, []).append(name)
    shared = {top: names for top, names in packages.items() if len(names) > 1}
    return {
        "python_version": "{}.{}".format(*sys.version_info[:2]),
        "python_full_version": "{}.{}.{}".format(*sys.version_info[:3]),
        "executable": sys.executable,
        "stdlib": sorted(sys.stdlib_module_names),
        "builtins": sorted(sys.builtin_module_names),
        "packages": packages,
        "versions": versions,
        "direct_urls": direct,
        "editable": editable,
        "subnames": {top: {name: _subnames(records[name], top) for name in names} for top, names in shared.items()},
    }


def probe_environment(python: str | None = None) -> dict:
    """`collect()` for `python` (default: this interpreter), run in a subprocess when it is another one."""
    if python is None or os.path.abspath(python) == os.path.abspath(sys.executable):
        return collect()
    done = subprocess.run([python, __file__], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"cannot inspect the packages of {python}: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


if __name__ == "__main__":
    sys.path.pop(0)  # this folder is not part of the inspected environment
    json.dump(collect(), sys.stdout)
