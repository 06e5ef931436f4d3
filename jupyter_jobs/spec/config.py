"""Read a DataSphere-style `config.yaml` into a JobSpec, refusing every mistake with key, line and fix.

Everything here runs before anything is uploaded or started. Paths are checked against the
config file's own folder, so `jupyter jobs execute -c some/dir/config.yaml` works from anywhere.
"""

from __future__ import annotations

import difflib
import os
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from ..errors import ConfigError
from .models import (
    ENV_NAME,
    RESERVED_VARS,
    SIGNALS,
    VAR_NAME,
    DockerImage,
    Env,
    FileRef,
    GracefulShutdown,
    JobSpec,
    OutputDataset,
    PipOptions,
    PythonEnv,
    ResourceRef,
    Spark,
    WorkingStorage,
)
from .units import parse_duration, parse_size
from .yamlnodes import Node, parse

MAX_ENTRIES = 100
_VAR_REF = re.compile(r"\$\{([^}]*)\}")
_KNOWN_FLAGS = ("attach-project-disk",)
_TOP_KEYS = (
    "name", "desc", "description", "cmd", "args", "inputs", "outputs", "s3-mounts", "datasets",
    "env", "flags", "cloud-instance-type", "cloud-instance-types", "working-storage",
    "graceful-shutdown", "output-datasets", "spark", "timeout", "retries",
)
_ENV_KEYS = ("vars", "docker", "python")
_PYTHON_KEYS = ("type", "version", "requirements-file", "local-paths", "root-paths", "root-path", "pip")
_PIP_KEYS = ("index-url", "extra-index-urls", "trusted-hosts", "no-deps")


@dataclass
class LoadedConfig:
    """A parsed config: the spec, where its relative paths start, and what deserved a warning."""

    spec: JobSpec
    base_dir: Path
    source: str | None = None
    warnings: list[str] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)

    def locate(self, exc: ConfigError) -> ConfigError:
        """Name this file and the key's line in an error found after parsing (e.g. the service
        refusing an instance type), so it reads like every other config error."""
        exc.source = exc.source or self.source
        if exc.key == "cloud-instance-type" and "cloud-instance-types" in self.lines:
            exc.key = "cloud-instance-types"  # the list wins when both are given
        if exc.line is None and exc.key:
            exc.line = self.lines.get(exc.key) or self.lines.get(exc.key.split(".")[0])
        return exc


def load_config(path: str | os.PathLike, environ: dict[str, str] | None = None) -> LoadedConfig:
    """Read and check a config file; its folder is the base of every relative path in it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist",
                          hint="pass the path of your config.yaml with -c") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc}") from None
    return parse_config(text, source=str(path), base_dir=path.resolve().parent, environ=environ)


def parse_config(
    text: str,
    source: str | None = None,
    base_dir: str | os.PathLike | None = None,
    environ: dict[str, str] | None = None,
) -> LoadedConfig:
    """Parse config text. With `base_dir`, input and requirement files must exist there."""
    reader = _Reader(source, Path(base_dir) if base_dir else None,
                     os.environ if environ is None else environ)
    try:
        spec = reader.read(parse(text, source))
    except ConfigError as exc:
        exc.source = exc.source or source
        raise
    return LoadedConfig(spec, reader.base_dir or Path.cwd(), source, reader.warnings, reader.lines)


def _message(error: dict) -> str:
    """A pydantic error's text without its "Value error, " prefix."""
    return error["msg"].removeprefix("Value error, ")


def suggest(word: str, choices) -> str | None:
    """A did-you-mean hint, or None when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


class _Reader:
    """Walks the node tree; one method per config key, each raising at the offending node."""

    def __init__(self, source: str | None, base_dir: Path | None, environ):
        self.source = source
        self.base_dir = base_dir
        self.environ = environ
        self.warnings: list[str] = []
        self.lines: dict[str, int] = {}
        self.var_lines: dict[str, int] = {}

    # -- top level --------------------------------------------------------------------------------
    def read(self, root: Node | None) -> JobSpec:
        if root is None:
            # Named as the missing `cmd` (line 1), so every config error has a key and a line.
            raise ConfigError("the config is empty", key="cmd", line=1,
                              hint="a config needs at least `cmd: <command>`")
        keys = self._keys(root, _TOP_KEYS, "")
        if "cmd" not in keys:
            raise ConfigError("`cmd` is missing", line=1, key="cmd",
                              hint="add `cmd: <the command that runs your job>`")
        data: dict = {"cmd": self.cmd(keys["cmd"])}
        for key in ("name", "desc", "description"):
            if key in keys and not keys[key].is_null:
                data["name" if key == "name" else "desc"] = keys[key].string()
        if "args" in keys:
            data["args"] = self.args(keys["args"])
        for key in ("inputs", "outputs"):
            if key in keys:
                data[key] = self.files(keys[key], key)
        for key in ("s3-mounts", "datasets"):
            if key in keys:
                data[key.replace("-", "_")] = self.resources(keys[key])
        if "env" in keys:
            data["env"] = self.env(keys["env"])
        if "flags" in keys:
            data["flags"] = self.flags(keys["flags"])
        if "cloud-instance-types" in keys:
            data["instance_types"] = self.instance_types(keys["cloud-instance-types"])
            if "cloud-instance-type" in keys:
                self.warn(keys["cloud-instance-type"],
                          "ignored: `cloud-instance-types` is also given and wins")
        elif "cloud-instance-type" in keys:
            data["instance_types"] = [keys["cloud-instance-type"].string("an instance type name")]
        if "working-storage" in keys:
            data["working_storage"] = self.working_storage(keys["working-storage"])
        if "graceful-shutdown" in keys:
            data["graceful_shutdown"] = self.graceful(keys["graceful-shutdown"])
        if "output-datasets" in keys:
            data["output_datasets"] = self.output_datasets(keys["output-datasets"])
        if "spark" in keys:
            node = keys["spark"]
            spark = self._keys(node, ("connector",), "spark")
            if "connector" not in spark:
                raise node.error("needs `connector: <connector id>`")
            data["spark"] = Spark(connector=spark["connector"].string())
        if "timeout" in keys:
            data["timeout_s"] = self.duration(keys["timeout"])
            if not data["timeout_s"]:  # checked here, not by the model, to name the key and line
                raise keys["timeout"].error("must be longer than 0s", hint="leave it out for no time limit")
        if "retries" in keys:
            text = keys["retries"].string("a whole number")
            if not text.isdigit() or int(text) > 10:
                raise keys["retries"].error(f"must be a whole number from 0 to 10, not {text!r}")
            data["retries"] = int(text)
        spec = self.build(data)
        self.check_variables(spec, keys["cmd"])
        return spec

    def build(self, data: dict) -> JobSpec:
        try:
            return JobSpec(**data)
        except ValidationError as exc:  # the readers above check shapes; this is the last net
            first = exc.errors()[0]
            key = ".".join(str(p) for p in first["loc"]).replace("_", "-")
            raise ConfigError(_message(first), key=key, line=self.lines.get(key.split(".")[0])) from None

    @staticmethod
    def model(cls, at: Node, fields: dict[str, Node] | None = None, **values):
        """`cls(**values)`, a refusal by the model named at the node of the field it is about (else `at`)."""
        try:
            return cls(**values)
        except ValidationError as exc:
            first = exc.errors()[0]
            node = (fields or {}).get(str(first["loc"][0]) if first["loc"] else "", at)
            raise node.error(_message(first)) from None

    def _keys(self, node: Node, known, prefix: str) -> dict[str, Node]:
        """A mapping's children, warning (with a suggestion) about keys we do not know."""
        node.expect("map", "a mapping of keys")
        out = {}
        for name, line, child in node.items:
            self.lines[f"{prefix}.{name}" if prefix else name] = line
            if name in known:
                out[name] = child
            else:
                hint = suggest(name, known)
                where = f"line {line}: " if line else ""
                what = f"`{prefix}.{name}`" if prefix else f"`{name}`"
                self.warnings.append(f"{where}unknown key {what} is ignored" + (f"; {hint}" if hint else ""))
        return out

    def warn(self, node: Node, message: str) -> None:
        self.warnings.append(f"line {node.line}: `{node.key}` {message}")

    # -- cmd and variables ----------------------------------------------------------------------------
    def cmd(self, node: Node) -> str:
        text = node.string("the command to run").strip() if not node.is_null else ""
        if not text:
            raise node.error("is empty", hint="write the command that runs your job, e.g. `cmd: python main.py`")
        if node.style == ">":
            # YAML keeps the newline before a more-indented line of a folded block; those lines are
            # the arguments of one command (the seeds' `cmd: >` example), so fold them too.
            text = re.sub(r"\n[ \t]+", " ", text)
        return text

    def check_variables(self, spec: JobSpec, node: Node) -> None:
        declared = spec.variables()
        for name in _VAR_REF.findall(spec.cmd):
            if name in declared or name in spec.env.vars:
                continue
            if name == "DS_PROJECT_HOME":
                raise node.error("uses ${DS_PROJECT_HOME} without the `attach-project-disk` flag",
                                 hint="add `flags: [attach-project-disk]`")
            known = ", ".join(sorted(declared)) or "none"
            hint = suggest(name, declared) or f"declared variables: {known}"
            if not VAR_NAME.match(name):  # e.g. a `${` never closed on its line: quote it, keep one line
                raise node.error(f"has {('${' + name + '}')[:60]!r}, which is not a variable reference",
                                 hint="a variable is ${NAME}: 1-50 letters, digits, `-` or `_`")
            raise node.error(f"uses an undeclared variable ${{{name}}}", hint=hint)

    def var_name(self, node: Node) -> str:
        name = node.string("a variable name")
        if not VAR_NAME.match(name):
            raise node.error(f"variable name {name!r} is not 1-50 letters, digits, `-` or `_`")
        if name in RESERVED_VARS:
            raise node.error(f"variable name {name} is reserved", hint="pick another name")
        if name in self.var_lines:
            raise node.error(f"variable {name} is declared twice (first on line {self.var_lines[name]})",
                             hint="variable names must be unique across the config")
        self.var_lines[name] = node.line
        return name

    def args(self, node: Node) -> dict[str, str]:
        out = {}
        for name, _, child in node.expect("map", "a mapping of NAME: value").items:
            out[self.var_name(Node("scalar", child.line, f"{node.key}.{name}", text=name))] = child.string()
        return out

    # -- files ----------------------------------------------------------------------------------------
    def files(self, node: Node, section: str) -> list[FileRef]:
        if node.is_null:
            return []
        refs: list[tuple[FileRef, Node]] = []
        entries = node.sequence(f"a list of paths ({section}: [- path])")
        self.limit(node, entries)
        for entry in entries:
            path_node, var = self.file_entry(entry)
            path = path_node.string("a path")
            self.lines[path_node.key] = path_node.line  # capture_inputs names the entry's line
            refs.append((self.check_path(path_node, path, var, section), path_node))
        self.check_overlaps(refs)
        return [ref for ref, _ in refs]

    def file_entry(self, entry: Node) -> tuple[Node, str | None]:
        """`path`, `path: VAR`, `path: {var: VAR}` or `path:` (no variable)."""
        if entry.kind == "scalar":
            return entry, None
        if entry.kind != "map" or len(entry.items) != 1:
            raise entry.error("must be `path`, `path: VAR` or `path: {var: VAR}`")
        path, line, value = entry.items[0]
        path_node = Node("scalar", line, entry.key, text=path)
        if value.is_null:
            return path_node, None
        if value.kind == "map":
            inner = self._keys(value, ("var",), entry.key)
            if "var" not in inner:
                raise value.error("needs `var: NAME`")
            return path_node, self.var_name(inner["var"])
        return path_node, self.var_name(value)

    def check_path(self, node: Node, path: str, var: str | None, section: str) -> FileRef:
        if not path.strip():
            raise node.error("has an empty path")
        absolute = os.path.isabs(path)
        if not var and absolute:
            raise node.error(f"absolute path {path!r} needs a variable",
                             hint=f"write `- {path}: {{var: NAME}}` and use ${{NAME}} in cmd")
        if not var and posixpath.normpath(path).split("/")[0] == "..":
            raise node.error(f"path {path!r} climbs out of the config's folder with `..`",
                             hint=f"bind it to a variable: `- {path}: {{var: NAME}}`")
        ref = self.model(FileRef, node, path=path, var=var)  # control characters: before the disk is asked
        if section == "inputs" and self.base_dir is not None:
            full = Path(path) if absolute else self.base_dir / path
            if not full.exists():
                raise node.error(f"input {path!r} does not exist (looked in {full.parent})",
                                 hint="inputs must exist when the job is submitted")
        return ref

    def check_overlaps(self, refs: list[tuple[FileRef, Node]]) -> None:
        seen: list[tuple[str, Node]] = []
        for ref, node in refs:
            norm = posixpath.normpath(ref.path)
            for other, other_node in seen:
                if norm == other:
                    raise node.error(f"path {ref.path!r} is listed twice (also on line {other_node.line})")
                inner, outer = (norm, other) if len(norm) > len(other) else (other, norm)
                if inner.startswith(outer.rstrip("/") + "/"):
                    raise node.error(f"paths {inner!r} and {outer!r} overlap (line {other_node.line})",
                                     hint=f"list only {outer!r}, it already contains {inner!r}")
            seen.append((norm, node))

    def limit(self, node: Node, entries: list) -> None:
        if len(entries) > MAX_ENTRIES:
            raise node.error(f"has {len(entries)} entries; at most {MAX_ENTRIES} are allowed",
                             hint="put the files in a directory and list the directory")

    def resources(self, node: Node) -> list[ResourceRef]:
        if node.is_null:
            return []
        out = []
        entries = node.sequence("a list of ids (- ID or - ID: {var: NAME})")
        self.limit(node, entries)
        for entry in entries:
            id_node, var = self.file_entry(entry)
            rid = id_node.string("an id")
            if var is None:  # without a var the id itself is the `${ID}` variable: unique too
                if rid in self.var_lines:
                    raise id_node.error(f"variable {rid} is declared twice (first on line "
                                        f"{self.var_lines[rid]})",
                                        hint="variable names must be unique across the config")
                self.var_lines[rid] = id_node.line
            out.append(self.model(ResourceRef, id_node, id=rid, var=var))
        return out

    # -- env --------------------------------------------------------------------------------------
    def env(self, node: Node) -> Env:
        if node.is_null:
            return Env()
        keys = self._keys(node, _ENV_KEYS, "env")
        env = Env()
        if "vars" in keys:
            env.vars = self.env_vars(keys["vars"])
        if "docker" in keys:
            env.docker = self.docker(keys["docker"])
        if "python" in keys:
            env.python = self.python(keys["python"])
        return env

    def env_vars(self, node: Node) -> dict[str, str]:
        if node.is_null:
            return {}
        pairs: list[tuple[str, Node | None, Node]] = []
        if node.kind == "map":  # the older map form
            pairs = [(name, value, Node("scalar", line, f"{node.key}.{name}", text=name))
                     for name, line, value in node.items]
        else:
            for entry in node.sequence("a list of NAME or NAME: VALUE"):
                if entry.kind == "scalar" and not entry.is_null:
                    pairs.append((entry.text, None, entry))
                elif entry.kind == "map" and len(entry.items) == 1:
                    name, line, value = entry.items[0]
                    pairs.append((name, value, Node("scalar", line, entry.key, text=name)))
                else:
                    raise entry.error("must be NAME or NAME: VALUE")
        out = {}
        for name, value, where in pairs:
            if not ENV_NAME.match(name):
                raise where.error(f"{name!r} is not a valid environment variable name")
            if value is None:
                if name not in self.environ:
                    raise where.error(f"{name} is not set in your environment",
                                      hint=f"export {name}=... before submitting, or write `{name}: value`")
                out[name] = self.environ[name]
            else:
                out[name] = "" if value.is_null else value.string("a value")
        return out

    def docker(self, node: Node) -> DockerImage:
        if node.kind == "scalar":
            image = node.string("an image name")
            self.check_image(node, image)
            return DockerImage(image=image)
        keys = self._keys(node, ("image", "username", "password"), "env.docker")
        if "image" not in keys:
            raise node.error("needs `image: <name:tag>`")
        image = keys["image"].string("an image name")
        self.check_image(keys["image"], image)
        secret = None
        if "password" in keys:
            pw = keys["password"]
            if pw.kind != "map":
                raise pw.error("a plain-text password is refused",
                               hint="store it with `jupyter jobs secrets set NAME` and write "
                                    "`password: {secret-id: NAME}`")
            inner = self._keys(pw, ("secret-id",), "env.docker.password")
            if "secret-id" not in inner:
                raise pw.error("needs `secret-id: NAME`")
            secret = inner["secret-id"].string("a secret name")
        username = keys["username"].string() if "username" in keys else None
        return DockerImage(image=image, username=username, password_secret=secret)

    def check_image(self, node: Node, image: str) -> None:
        if not image.strip() or any(ch.isspace() for ch in image):
            raise node.error(f"{image!r} is not an image name", hint="write e.g. `python:3.11-slim`")

    def python(self, node: Node) -> PythonEnv:
        if node.kind == "scalar":
            if node.text == "auto":
                return PythonEnv(type="auto")
            raise node.error(f"must be `auto` or a mapping with `type: auto|manual`, not {node.describe()}")
        keys = self._keys(node, _PYTHON_KEYS, "env.python")
        kind = keys["type"].string() if "type" in keys else "auto"
        if kind not in ("auto", "manual"):
            raise keys["type"].error(f"must be `auto` or `manual`, not {kind!r}")
        env = PythonEnv(type=kind)
        if "root-paths" in keys and "root-path" in keys:
            raise keys["root-path"].error("give either `root-paths` or `root-path`, not both")
        roots = keys.get("root-paths") or keys.get("root-path")
        if roots is not None:
            env.root_paths = self.path_list(roots)
        if "local-paths" in keys:
            if roots is not None:
                raise keys["local-paths"].error("cannot be used together with `root-paths`",
                                                hint="keep one of them")
            env.local_paths = self.path_list(keys["local-paths"])
        if "version" in keys:
            env.version = self.version(keys["version"])
        if "requirements-file" in keys:
            env.requirements_file = self.requirements_file(keys["requirements-file"])
        if "pip" in keys:
            env.pip = self.pip(keys["pip"])
        if kind == "auto":
            for key in ("version", "requirements-file", "local-paths"):
                if key in keys:
                    raise keys[key].error("is only for `type: manual`",
                                          hint="write `type: manual` to set it yourself")
        elif not keys.keys() & {"version", "requirements-file", "local-paths", "root-paths", "root-path"}:
            raise node.error("`type: manual` needs at least one of version, requirements-file, local-paths",
                             hint="or write `python: auto`")
        return env

    def version(self, node: Node) -> str:
        text = node.string("a Python version")  # typed text: 3.10 stays "3.10"
        if text.startswith("2"):
            raise node.error(f"Python {text} is not supported", hint="use Python 3.10 or newer")
        if not re.fullmatch(r"3\.\d{1,2}(\.\d{1,3})?", text):
            raise node.error(f"{text!r} is not a Python version like 3.11 or 3.11.7",
                             hint="quote it if YAML reads it as a number: version: \"3.10\"")
        return text

    def requirements_file(self, node: Node) -> str:
        path = node.string("a path")
        if self.base_dir is not None and not (self.base_dir / path).is_file():
            raise node.error(f"requirements file {path!r} does not exist (looked in {self.base_dir})")
        return path

    def path_list(self, node: Node) -> list[str]:
        if node.is_null:
            return []
        if node.kind == "scalar":
            return [node.string("a path")]
        return [entry.string("a path") for entry in node.sequence("a list of paths")]

    def pip(self, node: Node) -> PipOptions:
        keys = self._keys(node, _PIP_KEYS, "env.python.pip")
        opts = PipOptions()
        if "index-url" in keys:
            opts.index_url = keys["index-url"].string("a URL")
        for key in ("extra-index-urls", "trusted-hosts"):
            if key in keys:
                value = keys[key]
                items = [value] if value.kind == "scalar" else value.sequence("a list of strings")
                setattr(opts, key.replace("-", "_"), [item.string() for item in items])
        if "no-deps" in keys:
            opts.no_deps = keys["no-deps"].boolean()
        return opts

    # -- resources and shutdown ------------------------------------------------------------------
    def flags(self, node: Node) -> list[str]:
        if node.is_null:
            return []
        out = []
        for entry in node.sequence("a list of flags"):
            flag = entry.string("a flag name")
            if flag not in _KNOWN_FLAGS:
                raise entry.error(f"unknown flag {flag!r}",
                                  hint=suggest(flag, _KNOWN_FLAGS) or f"known: {', '.join(_KNOWN_FLAGS)}")
            out.append(flag)
        return out

    def instance_types(self, node: Node) -> list[str]:
        if node.kind == "scalar":
            return [node.string("an instance type name")]
        names = [entry.string("an instance type name") for entry in node.sequence("a list of names")]
        if not names:
            raise node.error("is an empty list", hint="name at least one instance type, e.g. c1.4")
        return names

    def working_storage(self, node: Node) -> WorkingStorage:
        keys = self._keys(node, ("type", "size"), "working-storage")
        kind = keys["type"].string() if "type" in keys else "SSD"
        if kind.upper() != "SSD":
            raise keys["type"].error(f"storage type {kind!r} is not supported", hint="use `type: SSD`")
        if "size" not in keys:
            raise node.error("needs `size`, e.g. `size: 150Gb`")
        try:
            size_gb = parse_size(keys["size"].string("a size")) // (1 << 30)
        except ValueError as exc:
            raise keys["size"].error(str(exc)) from None
        if size_gb < 100:
            raise keys["size"].error(f"is {size_gb} GiB; working storage is at least 100 GiB")
        return WorkingStorage(type="SSD", size_gb=size_gb)

    def graceful(self, node: Node) -> GracefulShutdown:
        keys = self._keys(node, ("signal", "timeout"), "graceful-shutdown")
        out = GracefulShutdown()
        if "signal" in keys:
            name = keys["signal"].string("a signal name").upper()
            name = name if name.startswith("SIG") else "SIG" + name
            if name not in SIGNALS:
                raise keys["signal"].error(f"signal {keys['signal'].text!r} is not supported",
                                           hint=f"use one of {', '.join(SIGNALS)}")
            out.signal = name
        if "timeout" in keys:
            out.timeout_s = self.duration(keys["timeout"])
        return out

    def duration(self, node: Node) -> float:
        try:
            return parse_duration(node.string("a duration like 1h2m3s"))
        except ValueError as exc:
            raise node.error(str(exc)) from None

    def output_datasets(self, node: Node) -> list[OutputDataset]:
        out = []
        for entry in node.sequence("a list of datasets"):
            keys = self._keys(entry, ("name", "description", "size", "var", "labels"), entry.key)
            for required in ("name", "var"):
                if required not in keys:
                    raise entry.error(f"needs `{required}`")
            ds = self.model(OutputDataset, entry, keys, name=keys["name"].string(), var=self.var_name(keys["var"]))
            if "description" in keys:
                ds.description = keys["description"].string()
            if "size" in keys:
                try:
                    ds.size_gb = parse_size(keys["size"].string("a size")) // (1 << 30)
                except ValueError as exc:
                    raise keys["size"].error(str(exc)) from None
            if "labels" in keys:
                ds.labels = {k: v.string() for k, _, v in keys["labels"].expect("map", "a mapping").items}
            out.append(ds)
        return out
