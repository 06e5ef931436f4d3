"""Find the Python entry points of a job from its shell `cmd`, without running anything.

A job's environment is whatever its entry points import, so we read the command the way a shell would
(`shlex`), look through env assignments, wrappers and launchers, and keep scripts and `-m` modules.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_MODULE_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_SEPARATORS = {";", "&&", "||", "|", "&", "|&", ";;", "(", ")"}
#: Words that run the rest of the line as a command of their own.
_PREFIXES = {"env", "exec", "nohup", "time", "command", "nice", "stdbuf"}
#: Launchers that take their own options, then a script (or `-m`/`--module` and a module name).
_LAUNCHERS = {"deepspeed", "torchrun"}
_LAUNCHER_MODULES = {
    "torch.distributed.run",
    "torch.distributed.launch",
    "deepspeed",
    "deepspeed.launcher.runner",
    "accelerate.commands.launch",
}
#: Tools that wrap a whole command line (`mpirun -np 4 python x.py`).
_WRAPPERS = {"mpirun", "mpiexec", "srun", "horovodrun", "xvfb-run", "timeout", "taskset", "numactl"}
#: Interpreter flags that consume the next argument (`-X dev`, `-W ignore`).
_FLAGS_WITH_VALUE = set("XW")
_LONG_FLAGS_WITH_VALUE = {"--check-hash-based-pycs"}
_SKIP_DIRS = {"__pycache__", ".git", ".venv", "venv", "node_modules", ".ipynb_checkpoints"}


@dataclass
class EntryPoints:
    """Scripts (paths relative to the base dir, `/`-separated) and `-m` modules a job starts with."""

    files: list[str] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    #: Scripts the command or `root-paths` names that are not files under the base dir.
    missing: list[str] = field(default_factory=list)


def find_entry_points(cmd: str, base_dir: Path, root_paths: Iterable[str] = ()) -> EntryPoints:
    """Entry points of `cmd` run from `base_dir`, plus explicit `root_paths` (files or folders)."""
    found = EntryPoints()
    finder = _Finder(Path(base_dir), found)
    for words in _simple_commands(cmd):
        finder.command(words)
    for root in root_paths:
        finder.root_path(root)
    return found


def _simple_commands(cmd: str) -> list[list[str]]:
    """Split a (multi-line) shell command into simple commands, dropping redirections."""
    text = cmd.replace("\\\r\n", " ").replace("\\\n", " ").replace("\n", " ; ")
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes: the job will fail anyway, read what we can
        tokens = text.split()
    commands: list[list[str]] = [[]]
    skip_next = False
    for token in tokens:
        if skip_next:
            skip_next = False
        elif token in _SEPARATORS:
            commands.append([])
        elif token and set(token) <= set("<>&") and ("<" in token or ">" in token):
            skip_next = True  # the redirection target is not an argument
        else:
            commands[-1].append(token)
    return [words for words in commands if words]


def _append(bucket: list[str], item: str) -> None:
    if item not in bucket:
        bucket.append(item)


def is_python_shebang(path: Path) -> bool:
    """True for a file whose first line is `#!...python...` (runnable as `./script`)."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline(256)
    except OSError:
        return False
    return first.startswith(b"#!") and b"python" in first


class _Finder:
    def __init__(self, base_dir: Path, found: EntryPoints):
        self.base = base_dir
        self.found = found

    def command(self, words: list[str]) -> None:
        words = self._strip_prefixes(words)
        if not words:
            return
        head = os.path.basename(words[0])
        if _PYTHON.match(head):
            self._python(words[1:])
        elif head in _LAUNCHERS:
            self._launcher(words[1:])
        elif head == "accelerate" and words[1:2] == ["launch"]:
            self._launcher(words[2:])
        elif head in _WRAPPERS:
            for i, word in enumerate(words[1:], 1):
                name = os.path.basename(word)
                if _PYTHON.match(name) or name in _LAUNCHERS or name == "accelerate" or word.endswith(".py"):
                    self.command(words[i:])
                    return
        else:
            path = self._local(words[0])
            if path is not None and is_python_shebang(self.base / path):
                _append(self.found.files, path)
                self._extra_scripts(words[1:])

    def _strip_prefixes(self, words: list[str]) -> list[str]:
        i = 0
        while i < len(words):
            word = words[i]
            if _ASSIGNMENT.match(word):
                i += 1
            elif word in _PREFIXES:
                i += 1
                while i < len(words) and words[i].startswith("-"):  # `env -i`, `nice -n 5`
                    i += 2 if words[i] in {"-u", "-n", "-o", "-e", "-C"} else 1
            else:
                break
        return words[i:]

    def _python(self, args: list[str]) -> None:
        """Read interpreter flags the way CPython does, then take the script or the `-m` module."""
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                if i + 1 < len(args):
                    self._script(args[i + 1], args[i + 2 :])
                return
            if arg in _LONG_FLAGS_WITH_VALUE:
                i += 2
                continue
            if arg.startswith("--") or arg == "-":  # --version, --help, or code from stdin
                if "=" in arg or arg in {"--version", "--help", "-"}:
                    return
                i += 1
                continue
            if not arg.startswith("-"):
                self._script(arg, args[i + 1 :])
                return
            for pos, flag in enumerate(arg[1:], 1):
                rest = arg[pos + 1 :]
                if flag == "c":
                    return
                if flag == "m":
                    module = rest or (args[i + 1] if i + 1 < len(args) else "")
                    self._module(module, args[i + (1 if rest else 2) :])
                    return
                if flag in _FLAGS_WITH_VALUE:
                    if not rest:
                        i += 1
                    break
            i += 1

    def _module(self, module: str, args: list[str]) -> None:
        if not _MODULE_NAME.match(module):
            return
        _append(self.found.modules, module)
        if module in _LAUNCHER_MODULES:
            self._launcher(args)
        else:
            self._extra_scripts(args)

    def _launcher(self, args: list[str]) -> None:
        """Launcher options vary, so take the first `.py` argument (or the module after `-m`)."""
        module_mode = False
        for i, arg in enumerate(args):
            if arg in {"-m", "--module"}:
                module_mode = True
            elif arg.startswith("-"):
                continue
            elif module_mode and _MODULE_NAME.match(arg) and not arg.endswith(".py"):
                _append(self.found.modules, arg)
                self._extra_scripts(args[i + 1 :])
                return
            elif arg.endswith(".py"):
                self._script(arg, args[i + 1 :])
                return

    def _script(self, token: str, args: list[str]) -> None:
        if "$" in token:  # a `${VAR}` placeholder: known only when the job runs
            return
        path = self._local(token)
        if path is None:
            _append(self.found.missing, token)
            return
        _append(self.found.files, path)
        self._extra_scripts(args)

    def _extra_scripts(self, args: list[str]) -> None:
        """`python main.py other.py`: programs passed as arguments are entry points too."""
        for arg in args:
            if arg.endswith(".py") and not arg.startswith("-") and "$" not in arg:
                path = self._local(arg)
                if path is not None:
                    _append(self.found.files, path)

    def _local(self, token: str) -> str | None:
        """`token` as a `/`-separated path relative to the base dir, if it is a file under it."""
        path = Path(token) if os.path.isabs(token) else self.base / token
        try:
            rel = path.resolve().relative_to(self.base.resolve())
        except ValueError:
            return None
        return rel.as_posix() if path.is_file() else None

    def root_path(self, root: str) -> None:
        path = self.base / root
        if path.is_dir():
            for file in sorted(path.rglob("*.py")):
                if not _SKIP_DIRS.intersection(file.relative_to(path).parts):
                    _append(self.found.files, file.relative_to(self.base).as_posix())
            return
        local = self._local(root)
        if local is None:
            _append(self.found.missing, root)
        else:
            _append(self.found.files, local)
