"""Read pip requirements files (the whole syntax) into lines and options `uv pip install` takes.

Decisions, where pip leaves room:
- `-r`/`-c` and local paths are relative to the file that names them (uv does the same). `-r` files are
  flattened into one list; a file included twice (or in a cycle) is read once.
- Local paths must lie inside the job folder (they are shipped with it) and are rewritten `./`-relative
  to it. `-e PATH` installs a copy, not a link: the environment is cached and outlives the run folder.
  `-e VCS_URL#egg=NAME` becomes `NAME @ VCS_URL` (uv installs VCS requirements, not editable).
- `${VAR}` references are kept as written: uv expands them when the environment is built, and secrets
  in index URLs never land in a lock.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from .cache import pip_options

_KEY = "env.python.requirements-file"
_COMMENT = re.compile(r"(^|\s+)#.*$")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_VCS = re.compile(r"^(git|hg|svn|bzr)\+")
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_VERSION_SPEC = r"(?:~=|===|==|!=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+"
_SPECS = rf"{_VERSION_SPEC}(?:\s*,\s*{_VERSION_SPEC})*"
_NAMED = re.compile(
    rf"^(?P<name>{_NAME})\s*(?:\[\s*(?:{_NAME}(?:\s*,\s*{_NAME})*)?\s*\])?\s*"
    rf"(?:@\s*(?P<url>\S+)|\(\s*{_SPECS}\s*\)|{_SPECS})?\s*$"
)
_MARKER_VARS = re.compile(
    r"\b(python_version|python_full_version|os_name|sys_platform|platform_release|platform_system|"
    r"platform_version|platform_machine|platform_python_implementation|implementation_name|"
    r"implementation_version|extra)\b"
)
#: Options with a value, by every spelling, -> the key they set (or a special action).
_VALUED = {
    "-r": "requirement", "--requirement": "requirement",
    "-c": "constraint", "--constraint": "constraint",
    "-e": "editable", "--editable": "editable",
    "-i": "index_url", "--index-url": "index_url",
    "--extra-index-url": "extra_index_urls",
    "-f": "find_links", "--find-links": "find_links",
    "--trusted-host": "trusted_hosts",
    "--only-binary": "only_binary",
    "--no-binary": "no_binary",
    "--use-feature": None,  # pip-only switches; nothing to pass on
}  # fmt: skip
_FLAGS = {
    "--no-index": "no_index",
    "--no-deps": "no_deps",
    "--pre": "pre",
    "--require-hashes": "require_hashes",
    "--prefer-binary": None,  # uv prefers wheels already
}


@dataclass
class Requirements:
    """A requirements file, flattened."""

    lines: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    #: pip options set in the files (see `cache.PIP_DEFAULTS`).
    options: dict = field(default_factory=lambda: pip_options(None))
    #: Local paths the lines install or find links in, `./`-relative to the job folder.
    local_paths: list[str] = field(default_factory=list)


def parse_requirements(path: Path, base_dir: Path | None = None) -> Requirements:
    """Parse `path` and what it includes. Raises ConfigError naming the file and line."""
    path = Path(path)
    parser = _Parser(Path(base_dir if base_dir is not None else path.parent).resolve())
    parser.read(path.resolve(), constraint=False, source=None)
    return parser.result


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) with `\\` continuations joined and comments removed."""
    out: list[tuple[int, str]] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not parts:
            start = number
        if raw.endswith("\\") and not _COMMENT.search(raw):
            parts.append(raw[:-1])
            continue
        parts.append(raw)
        out.append((start, _COMMENT.sub("", "".join(parts)).strip()))
        parts = []
    if parts:
        out.append((start, _COMMENT.sub("", "".join(parts)).strip()))
    return [(number, line) for number, line in out if line]


class _Parser:
    def __init__(self, base: Path):
        self.base = base
        self.result = Requirements()
        self.read_files: set[tuple[Path, bool]] = set()

    def read(self, path: Path, constraint: bool, source: tuple[Path, int] | None) -> None:
        if (path, constraint) in self.read_files:
            return
        self.read_files.add((path, constraint))
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise self._error(source, f"cannot read requirements file {path}: {exc.__class__.__name__}") from None
        for number, line in _logical_lines(text):
            where = (path, number)
            if line.startswith("-"):
                self._option(line, where, constraint)
            else:
                self._requirement(line, where, constraint)

    def _error(self, where: tuple[Path, int] | None, message: str, hint: str | None = None) -> ConfigError:
        if where is None:
            return ConfigError(message, key=_KEY, hint=hint)
        return ConfigError(message, key=_KEY, source=str(where[0]), line=where[1], hint=hint)

    def _option(self, line: str, where: tuple[Path, int], constraint: bool) -> None:
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise self._error(where, f"cannot split {line!r}: {exc}") from None
        i = 0
        while i < len(words):
            word = words[i]
            name, eq, value = word.partition("=")
            if not eq and word[:2] in _VALUED and len(word) > 2 and not word.startswith("--"):
                name, value, eq = word[:2], word[2:], "="  # `-rfile`
            if name in _FLAGS and not eq:
                if _FLAGS[name]:
                    self.result.options[_FLAGS[name]] = True
                i += 1
                continue
            if name not in _VALUED:
                raise self._error(where, f"unknown or unsupported option {name!r}", hint="see `pip install --help`")
            if not eq:
                if i + 1 >= len(words):
                    raise self._error(where, f"option {name!r} needs a value")
                value = words[i + 1]
                i += 1
            i += 1
            self._apply(_VALUED[name], value, where, constraint)

    def _apply(self, action: str | None, value: str, where: tuple[Path, int], constraint: bool) -> None:
        options = self.result.options
        if action == "requirement" or action == "constraint":
            if _URL.match(value):
                raise self._error(where, f"remote requirement files are not supported: {value}")
            self.read((where[0].parent / value).resolve(), constraint or action == "constraint", where)
        elif action == "editable":
            self._editable(value, where, constraint)
        elif action == "index_url":
            options["index_url"] = value
        elif action in {"only_binary", "no_binary"}:
            options[action] = list(dict.fromkeys(options[action] + value.split(",")))
        elif action == "find_links":
            target = value if _URL.match(value) else self._local(value, where)
            options[action] = list(dict.fromkeys(options[action] + [target]))
        elif action is not None:
            options[action] = list(dict.fromkeys(options[action] + [value]))

    def _editable(self, value: str, where: tuple[Path, int], constraint: bool) -> None:
        if _VCS.match(value):
            url, _, fragment = value.partition("#")
            params = dict(p.partition("=")[::2] for p in fragment.split("&") if p)
            name = params.pop("egg", None)
            rest = "&".join(f"{k}={v}" for k, v in params.items())
            full = url + (f"#{rest}" if rest else "")
            self._add(f"{name} @ {full}" if name else full, constraint)
        elif _URL.match(value):
            raise self._error(where, f"-e needs a local folder or a VCS URL, not {value}")
        else:
            self._add(self._local(value, where), constraint)

    def _requirement(self, line: str, where: tuple[Path, int], constraint: bool) -> None:
        parts = re.split(r"\s+(?=--)", line)
        spec, options = parts[0], parts[1:]
        for option in options:
            if not re.match(r"^--hash[=\s]\s*\w+:\w+$", option):
                raise self._error(where, f"unsupported per-requirement option {option.split()[0]!r}")
        if " ;" in spec:
            body, semi, marker = spec.partition(" ;")
        elif _URL.match(spec) or _VCS.match(spec) or "@" in spec:
            body, semi, marker = spec, "", ""  # a `;` glued to a URL belongs to the URL
        else:
            body, semi, marker = spec.partition(";")
        body, marker = body.strip(), marker.strip()
        if semi and not _MARKER_VARS.search(marker):
            raise self._error(where, f"invalid environment marker {marker!r}")
        if _URL.match(body) or _VCS.match(body):
            requirement = body
        elif _NAMED.match(body):
            url = _NAMED.match(body).group("url")
            if url and not (_URL.match(url) or _VCS.match(url)):
                raise self._error(where, f"`name @ url` needs a URL, got {url!r}")
            requirement = body
        elif body.startswith((".", "/", "~")) or "/" in body or body.endswith((".whl", ".tar.gz", ".zip")):
            requirement = self._local(body, where)
        else:
            raise self._error(where, f"invalid requirement {body!r}", hint="expected e.g. `name==1.0` or a URL")
        text = requirement + (f" ; {marker}" if semi else "") + "".join(f" {o}" for o in options)
        self._add(text, constraint)

    def _local(self, value: str, where: tuple[Path, int]) -> str:
        """A path named in a file: checked, and rewritten relative to the job folder."""
        path = (where[0].parent / Path(value).expanduser()).resolve()
        if not path.exists():
            raise self._error(where, f"no such file or folder: {value}")
        try:
            rel = path.relative_to(self.base).as_posix()
        except ValueError:
            raise self._error(
                where, f"{value} is outside the job folder {self.base}", hint="move it into the job folder"
            ) from None
        local = "./" if rel == "." else f"./{rel}"
        if local not in self.result.local_paths:
            self.result.local_paths.append(local)
        return local

    def _add(self, line: str, constraint: bool) -> None:
        bucket = self.result.constraints if constraint else self.result.lines
        if line not in bucket:
            bucket.append(line)
