"""A cache of built virtual environments, one per lock key (standard library only).

This runs on the service and inside job containers, where only the standard library and the `uv`
binary exist, so it imports nothing else and also works as a script:
`python -m jupyter_jobs.pyenv.cache ensure LOCK.json` prints the venv path.

- A build happens in a temp folder under the root and is renamed into `root/<key>` (atomic), so a
  present folder is always complete. Venvs are made `--relocatable` so the rename does not break them.
- An exclusive `flock` per key makes concurrent `ensure` calls (threads or processes) build once.
- A job holds a shared `flock` on its key while it uses the env (`use()`); `prune` skips those.
- Venvs come from `uv venv` (no system site packages): what the lock does not list is not importable.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

#: pip options a lock may carry, with their defaults.
PIP_DEFAULTS: dict = {
    "index_url": None,
    "extra_index_urls": [],
    "trusted_hosts": [],
    "find_links": [],
    "no_index": False,
    "no_deps": False,
    "pre": False,
    "only_binary": [],
    "no_binary": [],
    "require_hashes": False,
}
LOCK_FILE = "jupyter-jobs-lock.json"
_LAST_USED = ".last-used"
_KEY = re.compile(r"^[0-9a-f]{64}$")
_RESOLVED = re.compile(r"^Resolved (\d+) packages?")
_PREPARED = re.compile(r"^Prepared (\d+) packages?")
_INSTALLED = re.compile(r"^Installed (\d+) packages?")

#: How a build line is meant (the second argument of a `Log`): INFO for the main log, PROGRESS for the
#: one line that updates in place while building (each replaces the one before), DETAIL for uv's own
#: output (per-package lines, "Activate with: ..."): the system log's detail.
INFO, PROGRESS, DETAIL = "info", "progress", "detail"
Log = Callable[[str, str], None]


class EnvBuildError(RuntimeError):
    """`uv` could not build the environment; the message ends with uv's own output."""


def pip_options(options: dict | None) -> dict:
    """`options` completed with defaults, lists de-duplicated in order, unknown keys refused."""
    options = dict(options or {})
    unknown = set(options) - set(PIP_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown pip options: {', '.join(sorted(unknown))}")
    merged = {}
    for name, default in PIP_DEFAULTS.items():
        value = options.get(name, default)
        merged[name] = list(dict.fromkeys(value)) if isinstance(default, list) else value
    return merged


def lock_key(lock: dict) -> str:
    """sha256 of what decides an environment's content: Python, requirements, constraints, options."""
    essence = {
        "python": lock["python"],
        "requirements": sorted(lock.get("requirements", [])),
        "constraints": sorted(lock.get("constraints", [])),
        "pip": pip_options(lock.get("pip")),
        "sources": dict(sorted(lock.get("sources", {}).items())),
    }
    return hashlib.sha256(json.dumps(essence, sort_keys=True).encode()).hexdigest()


def uv_install_args(pip: dict, workdir: Path | None = None) -> list[str]:
    """`uv pip install` flags for normalised pip options."""
    pip = pip_options(pip)
    args: list[str] = []
    if pip["index_url"]:
        args += ["--index-url", pip["index_url"]]
    for url in pip["extra_index_urls"]:
        args += ["--extra-index-url", url]
    for host in pip["trusted_hosts"]:
        args += ["--allow-insecure-host", host]
    for link in pip["find_links"]:
        args += ["--find-links", _absolute(link, workdir)]
    for name in ("only_binary", "no_binary"):
        for value in pip[name]:
            args += ["--" + name.replace("_", "-"), value]
    flags = {"no_index": "--no-index", "no_deps": "--no-deps", "require_hashes": "--require-hashes"}
    args += [flag for name, flag in flags.items() if pip[name]]
    if pip["pre"]:
        args += ["--prerelease", "allow"]
    return args


def _absolute(entry: str, workdir: Path | None) -> str:
    """Paths in a lock are relative to the job folder; uv must see them absolute."""
    if workdir is None or not entry.startswith("./"):
        return entry
    return str(Path(workdir, entry).resolve())


def find_uv() -> str:
    """The `uv` binary: $JUPYTER_JOBS_UV, PATH, or next to this interpreter (pip-installed uv)."""
    candidates = [os.environ.get("JUPYTER_JOBS_UV"), shutil.which("uv"), os.path.join(sys.prefix, "bin", "uv")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise EnvBuildError("the `uv` binary was not found (install the `uv` package or set JUPYTER_JOBS_UV)")


def default_root() -> Path:
    """$JUPYTER_JOBS_ENV_CACHE, else the user's cache folder."""
    if os.environ.get("JUPYTER_JOBS_ENV_CACHE"):
        return Path(os.environ["JUPYTER_JOBS_ENV_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "jupyter-jobs", "envs")


@dataclass
class EnvEntry:
    key: str
    path: Path
    python: str
    packages: int
    size_bytes: int
    last_used: float


class EnvCache:
    """Built venvs under `root`, keyed by lock; `max_bytes` bounds the total (LRU) after each build."""

    def __init__(self, root: Path | None = None, uv_bin: str | None = None, max_bytes: int | None = None):
        self.root = Path(root) if root is not None else default_root()
        self.uv_bin = uv_bin
        self.max_bytes = max_bytes
        (self.root / ".locks").mkdir(parents=True, exist_ok=True)

    def path(self, lock: dict) -> Path:
        return self.root / lock_key(lock)

    def ensure(self, lock: dict, log: Log | None = None, workdir: Path | None = None) -> Path:
        """The venv for `lock`, built if missing. Relative paths in the lock are resolved in `workdir`."""
        log = log or (lambda line, level: None)
        key = lock_key(lock)
        final = self.root / key
        if final.is_dir():
            self._touch(final)
            log(f"using cached environment {key[:12]}", INFO)
            return final
        with self._locked(key, fcntl.LOCK_EX):
            if final.is_dir():  # another caller built it while we waited
                self._touch(final)
                log(f"using cached environment {key[:12]} (built concurrently)", INFO)
                return final
            self._build(lock, key, final, log, workdir)
        if self.max_bytes is not None:
            self.prune(self.max_bytes, keep={key})
        return final

    @contextlib.contextmanager
    def use(self, lock: dict, log: Log | None = None, workdir: Path | None = None) -> Iterator[Path]:
        """`ensure`, then hold the env in use (a shared lock `prune` respects) until the block ends."""
        while True:
            path = self.ensure(lock, log, workdir)
            with self._locked(path.name, fcntl.LOCK_SH):
                if path.is_dir():  # not pruned between `ensure` and the lock
                    try:
                        yield path
                    finally:
                        self._touch(path)
                    return

    def list(self) -> list[EnvEntry]:
        """Cached environments, least recently used first."""
        entries = []
        for path in self.root.iterdir():
            if not (_KEY.match(path.name) and path.is_dir()):
                continue
            try:
                meta = json.loads((path / LOCK_FILE).read_text())
            except (OSError, ValueError):
                meta = {}
            entries.append(
                EnvEntry(
                    key=path.name,
                    path=path,
                    python=meta.get("python", "?"),
                    packages=len(list(path.glob("lib/python*/site-packages/*.dist-info"))),
                    size_bytes=_size(path),
                    last_used=_mtime(path / _LAST_USED),
                )
            )
        return sorted(entries, key=lambda entry: entry.last_used)

    def prune(self, max_bytes: int = 0, keep: set[str] | frozenset[str] = frozenset()) -> list[str]:
        """Evict least recently used envs until the total is <= `max_bytes`; envs in use are kept."""
        self._remove_abandoned_builds()
        entries = self.list()
        total = sum(entry.size_bytes for entry in entries)
        removed = []
        for entry in entries:
            if total <= max_bytes:
                break
            if entry.key in keep:
                continue
            trash = self.root / f".trash-{entry.key}-{os.getpid()}-{time.monotonic_ns()}"
            try:
                with self._locked(entry.key, fcntl.LOCK_EX | fcntl.LOCK_NB):
                    os.rename(entry.path, trash)
            except (BlockingIOError, FileNotFoundError):
                continue  # in use or being built, or already gone
            shutil.rmtree(trash, ignore_errors=True)
            total -= entry.size_bytes
            removed.append(entry.key)
        return removed

    # -- internals -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, key: str, mode: int) -> Iterator[None]:
        with open(self.root / ".locks" / f"{key}.lock", "a+") as handle:
            fcntl.flock(handle, mode)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _touch(self, path: Path) -> None:
        with contextlib.suppress(OSError):
            (path / _LAST_USED).touch()

    def _build(self, lock: dict, key: str, final: Path, log: Log, workdir: Path | None) -> None:
        started = time.monotonic()
        uv = self.uv_bin or find_uv()
        tmp = Path(tempfile.mkdtemp(prefix=f".build-{key}-", dir=self.root))
        progress = BuildProgress(key[:12])
        try:
            requirements = lock.get("requirements", [])
            log(f"building environment {key[:12]}: Python {lock['python']}, "
                f"{_plural(len(requirements), 'requirement')}", PROGRESS)
            self._run([uv, "venv", "--relocatable", "--python", lock["python"], str(tmp)], log, progress)
            if requirements:
                (tmp / "requirements.txt").write_text("".join(_absolute(r, workdir) + "\n" for r in requirements))
                cmd = [
                    uv,
                    "pip",
                    "install",
                    "--python",
                    str(tmp / "bin" / "python"),
                    "-r",
                    str(tmp / "requirements.txt"),
                ]
                if lock.get("constraints"):
                    (tmp / "constraints.txt").write_text("".join(c + "\n" for c in lock["constraints"]))
                    cmd += ["-c", str(tmp / "constraints.txt")]
                self._run(cmd + uv_install_args(lock.get("pip"), workdir), log, progress)
            (tmp / LOCK_FILE).write_text(json.dumps(lock, indent=1, sort_keys=True))
            self._touch(tmp)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log(progress.summary(time.monotonic() - started), INFO)

    def _run(self, cmd: list[str], log: Log, progress: BuildProgress) -> None:
        """Run uv: its lines go to `log` as DETAIL, what they mean for the build as PROGRESS lines."""
        env = dict(os.environ, UV_PYTHON_DOWNLOADS="never", NO_COLOR="1")
        tail: list[str] = []
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as proc:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.rstrip()
                log(line, DETAIL)
                tail = (tail + [line])[-20:]
                update = progress.feed(line)
                if update:
                    log(update, PROGRESS)
        if proc.returncode != 0:
            raise EnvBuildError(f"`{' '.join(cmd[:3])}` failed (exit {proc.returncode}):\n" + "\n".join(tail))

    def _remove_abandoned_builds(self) -> None:
        """Temp folders of builds that crashed (nobody holds their key's lock any more)."""
        for path in self.root.glob(".build-*"):
            key = path.name.split("-")[1]
            try:
                with self._locked(key, fcntl.LOCK_EX | fcntl.LOCK_NB):
                    shutil.rmtree(path, ignore_errors=True)
            except BlockingIOError:
                continue
        for path in self.root.glob(".trash-*"):
            shutil.rmtree(path, ignore_errors=True)


class BuildProgress:
    """What uv's output says about a build, as one line that updates (`feed`) and a summary."""

    def __init__(self, name: str):
        self.name = name
        self.resolved = self.installed = 0

    def feed(self, line: str) -> str | None:
        """The new progress line this uv line makes, or None."""
        if match := _RESOLVED.match(line):
            self.resolved = int(match.group(1))
            return f"building environment {self.name}: downloading {_plural(self.resolved, 'package')}"
        if _PREPARED.match(line):
            return f"building environment {self.name}: installing {_plural(self.resolved, 'package')}"
        if match := _INSTALLED.match(line):
            self.installed = int(match.group(1))
        return None

    def summary(self, seconds: float) -> str:
        return f"built environment {self.name}: {_plural(self.installed, 'package')} in {seconds:.1f} s"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _size(path: Path) -> int:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def format_entries(entries: list[EnvEntry]) -> str:
    """A table for `jupyter jobs envs list`."""
    lines = [f"{'KEY':<14}{'PYTHON':<9}{'PACKAGES':>9}{'SIZE':>11}  LAST USED"]
    for entry in entries:
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.last_used)) if entry.last_used else "-"
        size = f"{entry.size_bytes / 2**20:.1f} MiB"
        lines.append(f"{entry.key[:12]:<14}{entry.python:<9}{entry.packages:>9}{size:>11}  {used}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`ensure LOCK.json [--workdir DIR]` (prints the venv path), `list`, `prune --max-bytes N`."""
    parser = argparse.ArgumentParser(prog="python -m jupyter_jobs.pyenv.cache")
    parser.add_argument("--root", type=Path, default=None)
    commands = parser.add_subparsers(dest="command", required=True)
    ensure = commands.add_parser("ensure")
    ensure.add_argument("lock", type=Path)
    ensure.add_argument("--workdir", type=Path, default=None)
    commands.add_parser("list")
    prune = commands.add_parser("prune")
    prune.add_argument("--max-bytes", type=int, default=0)
    args = parser.parse_args(argv)
    cache = EnvCache(args.root)
    if args.command == "ensure":
        lock = json.loads(args.lock.read_text())
        try:
            path = cache.ensure(lock, log=lambda line, level: print(line, file=sys.stderr, flush=True),
                                workdir=args.workdir)
        except EnvBuildError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(path)
    elif args.command == "list":
        print(format_entries(cache.list()))
    else:
        for key in cache.prune(args.max_bytes):
            print(f"removed {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
