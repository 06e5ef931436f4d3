"""Classify every import reached from a job's entry points: stdlib, local code to ship, or a pin.

Local modules are followed recursively (their imports count too). Third-party imports are pinned at the
version installed for the submitting interpreter. Nothing is dropped silently: what is neither stdlib,
local nor installed ends up in `Detection.unresolved` with the file and line that imported it.

Editable installs (`pip install -e`) are shipped as local code, never pinned: the job cannot install a
path from the submitter's disk, and the working copy may differ from any released version. Their
modules are placed at the job root with their package layout (`Detection.extra_files`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .imports import Import, parse_imports
from .probe import probe_environment


@dataclass
class Detection:
    """What a job's code needs, as seen from the submitting side."""

    #: The submitting interpreter's `major.minor`.
    python_version: str
    #: Sorted pinned requirement lines (`name==version` or `name @ url`).
    requirements: list[str] = field(default_factory=list)
    #: Files under the base dir to ship, `/`-separated and relative to it.
    local_files: list[str] = field(default_factory=list)
    #: Code from outside the base dir (editable installs): destination in the job -> source path.
    extra_files: dict[str, str] = field(default_factory=dict)
    #: Folders (relative to the job root) to put on PYTHONPATH so local packages import as they do here.
    python_paths: list[str] = field(default_factory=list)
    #: Top-level modules imported only where failure is handled (`try/except ImportError`...).
    optional: list[str] = field(default_factory=list)
    #: The optional ones that are not installed: left out of the requirements.
    optional_missing: list[str] = field(default_factory=list)
    #: Module -> ["file:line", ...] for imports that are neither stdlib, local nor installed.
    unresolved: dict[str, list[str]] = field(default_factory=dict)
    #: Things a user should know (a file that does not parse, a package pinned by version only).
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Root:
    """A folder imports are searched in, and where its modules go in the job (relative dir)."""

    path: Path
    dest: str | None  # None: keep the path relative to the base dir



def detect(
    base_dir: Path,
    files: Iterable[str] = (),
    modules: Iterable[str] = (),
    python: str | None = None,
) -> Detection:
    """Detect the environment for entry `files` (relative to `base_dir`) and `-m` `modules`.

    `python` is the interpreter whose installed packages are pinned (default: this one).
    """
    return _Resolver(Path(base_dir).resolve(), probe_environment(python)).run(list(files), list(modules))


class _Resolver:
    def __init__(self, base: Path, env: dict):
        self.base = base
        self.env = env
        self.stdlib = set(env["stdlib"]) | set(env["builtins"]) | {"__future__", "__main__"}
        self.roots = [_Root(base, None)] + ([_Root(base / "src", None)] if (base / "src").is_dir() else [])
        self.editable = {top: Path(src) for top, src in env["editable"].items()}
        self.queue: list[tuple[Path, str | None, tuple[_Root, ...]]] = []
        self.seen: set[Path] = set()
        self.shipped: dict[Path, str] = {}  # source file -> destination relative path
        self.used_roots: set[str] = set()
        self.third_party: dict[str, set[str]] = {}  # top-level -> requirement lines
        self.sites: dict[str, list[tuple[str, bool]]] = {}  # top-level -> [(where, optional)]
        self.unresolved: dict[str, list[str]] = {}
        self.warnings: list[str] = []

    def run(self, files: list[str], modules: list[str]) -> Detection:
        for rel in files:
            path = (self.base / rel).resolve()
            self._ship(path, _Root(self.base, None))
            self._enqueue(path, None, (_Root(path.parent, None), *self.roots))
        for module in modules:
            self._import(Import(module, (), 0, False), "cmd", self.roots)
        while self.queue:
            path, package, roots = self.queue.pop()
            self._scan(path, package, roots)
        return self._result()

    # -- walking -------------------------------------------------------------------------------

    def _enqueue(self, path: Path, package: str | None, roots: tuple[_Root, ...]) -> None:
        if path not in self.seen:
            self.seen.add(path)
            self.queue.append((path, package, roots))

    def _scan(self, path: Path, package: str | None, roots: tuple[_Root, ...]) -> None:
        where = self._display(path)
        try:
            found = parse_imports(path.read_bytes(), str(path), package)
        except (SyntaxError, ValueError, OSError) as exc:
            self.warnings.append(f"{where}: not read ({exc.__class__.__name__}: {exc}); its imports are unknown")
            return
        for imp in found:
            self._import(imp, f"{where}:{imp.line}", roots)

    def _import(self, imp: Import, where: str, roots: Iterable[_Root]) -> None:
        parts = imp.module.split(".")
        top = parts[0]
        if top in self.stdlib:
            return
        self.sites.setdefault(top, []).append((where, imp.optional))
        for root in roots:  # a regular module or package: found first on sys.path
            if (root.path / f"{top}.py").is_file() or (root.path / top / "__init__.py").is_file():
                self._local(root, parts, imp.names)
                return
        if top in self.editable:
            source = self.editable[top]
            self._local(_Root(source.parent, "."), parts, imp.names)
            return
        if top in self.env["packages"]:
            self._pin(top, parts)
            return
        for root in roots:  # a namespace package (a folder without __init__.py) comes last
            if (root.path / top).is_dir():
                self._local(root, parts, imp.names)
                return
        self.unresolved.setdefault(top, []).append(where)

    def _local(self, root: _Root, parts: list[str], names: tuple[str, ...]) -> None:
        """Ship the modules `parts` names (and `from ... import names` submodules), then follow them."""
        if root in self.roots:
            self.used_roots.add(root.path.relative_to(self.base).as_posix())
        folder = root.path
        for depth, part in enumerate(parts):
            module = folder / f"{part}.py"
            if module.is_file():
                self._follow(root, module, ".".join(parts[:depth]) or None)
                return
            folder = folder / part
            if not folder.is_dir():
                return
            init = folder / "__init__.py"
            if init.is_file():
                self._follow(root, init, ".".join(parts[: depth + 1]))
        package = ".".join(parts)
        for name in names:
            if (folder / f"{name}.py").is_file():
                self._follow(root, folder / f"{name}.py", package)
            elif (folder / name / "__init__.py").is_file():
                self._follow(root, folder / name / "__init__.py", f"{package}.{name}")

    def _follow(self, root: _Root, path: Path, package: str | None) -> None:
        self._ship(path, root)
        self._enqueue(path, package, (root, *self.roots))

    def _ship(self, path: Path, root: _Root) -> None:
        if root.dest is None:  # the base dir, `src/` or an entry point's folder: all under the base dir
            self.shipped[path] = path.relative_to(self.base).as_posix()
        else:
            self.shipped[path] = os.path.normpath(os.path.join(root.dest, path.relative_to(root.path))).replace(
                os.sep, "/"
            )

    def _display(self, path: Path) -> str:
        return self.shipped.get(path) or str(path)

    # -- third-party -----------------------------------------------------------------------------

    def _pin(self, top: str, parts: list[str]) -> None:
        names = self.env["packages"][top]
        shared = self.env["subnames"].get(top)
        if shared and len(parts) > 1:  # `google.protobuf`: only the distributions providing it
            names = [name for name in names if parts[1] in shared.get(name, [])] or names
        for name in names:
            self.third_party.setdefault(top, set()).add(self._requirement(name))

    def _requirement(self, name: str) -> str:
        version = self.env["versions"][name]
        info = self.env["direct_urls"].get(name) or {}
        url = info.get("url", "")
        vcs = info.get("vcs_info")
        if vcs:
            return f"{name} @ {vcs['vcs']}+{url}@{vcs.get('commit_id') or vcs.get('requested_revision')}"
        if url.startswith(("http://", "https://")):
            return f"{name} @ {url}"
        if url.startswith("file:"):
            self.warnings.append(f"{name} was installed from {url}; pinned as {name}=={version} (must be on an index)")
        return f"{name}=={version}"

    # -- result ----------------------------------------------------------------------------------

    def _result(self) -> Detection:
        external = self.third_party.keys() | self.unresolved.keys()
        optional = sorted(top for top in external if all(opt for _, opt in self.sites[top]))
        missing = sorted(top for top in optional if top in self.unresolved)
        local_files, extra_files = [], {}
        for source, dest in self.shipped.items():
            if source.is_relative_to(self.base) and dest == source.relative_to(self.base).as_posix():
                local_files.append(dest)
            else:
                extra_files[dest] = str(source)
        python_paths = sorted(self.used_roots | ({"."} if extra_files else set()))
        return Detection(
            python_version=self.env["python_version"],
            requirements=sorted({line for lines in self.third_party.values() for line in lines}, key=str.lower),
            local_files=sorted(set(local_files)),
            extra_files=dict(sorted(extra_files.items())),
            python_paths=python_paths,
            optional=optional,
            optional_missing=missing,
            unresolved={top: sites for top, sites in sorted(self.unresolved.items()) if top not in missing},
            warnings=self.warnings,
        )
