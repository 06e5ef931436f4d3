"""The environment cache against the real `uv` and PyPI (no fakes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from jupyter_jobs.pyenv.cache import DETAIL, INFO, PROGRESS, EnvBuildError, EnvCache, format_entries, lock_key
from jupyter_jobs.pyenv.lock import EnvLock

ROOT = Path(__file__).resolve().parents[2]
SIX = EnvLock(python="{}.{}".format(*sys.version_info[:2]), requirements=["six==1.17.0"]).to_dict()


def py(venv: Path, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True)


def test_build_is_isolated_and_cached(tmp_path):
    import yaml  # noqa: F401  (installed here, must not leak into the job's env)

    cache = EnvCache(tmp_path / "envs")
    lines: list[tuple[str, str]] = []
    venv = cache.ensure(SIX, log=lambda line, level: lines.append((line, level)))
    assert venv == tmp_path / "envs" / lock_key(SIX)
    assert py(venv, "import six; print(six.__version__)").stdout.strip() == "1.17.0"
    leaked = py(venv, "import yaml")
    assert leaked.returncode != 0 and "ModuleNotFoundError" in leaked.stderr
    # uv's own output is streamed as the log's detail; the main log is one updating line and a summary
    detail = [line for line, level in lines if level == DETAIL]
    assert any(line.startswith("Resolved 1 package") for line in detail)
    assert " + six==1.17.0" in detail  # (uv's "Activate with" hint depends on the shell it detects)
    name = venv.name[:12]
    progress = [line for line, level in lines if level == PROGRESS]
    assert progress[0] == f"building environment {name}: Python {SIX['python']}, 1 requirement"
    assert f"building environment {name}: downloading 1 package" in progress
    main = [line for line, level in lines if level == INFO]
    assert len(main) == 1 and main[0].startswith(f"built environment {name}: 1 package in ")
    assert not list((tmp_path / "envs").glob(".build-*"))

    hit: list[tuple[str, str]] = []
    assert cache.ensure(SIX, log=lambda line, level: hit.append((line, level))) == venv
    assert hit == [(f"using cached environment {name}", INFO)]

    (entry,) = cache.list()
    assert (entry.key, entry.python, entry.packages) == (venv.name, SIX["python"], 1)
    assert entry.size_bytes > 0 and entry.last_used > 0
    assert venv.name[:12] in format_entries([entry])


def test_concurrent_threads_build_once(tmp_path):
    cache = EnvCache(tmp_path / "envs")
    lines: list[str] = []
    results: list[Path] = []
    log = lambda line, level: lines.append(line)  # noqa: E731
    threads = [threading.Thread(target=lambda: results.append(cache.ensure(SIX, log=log))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and len(results) == 4
    assert sum(line.startswith("built environment") for line in lines) == 1


def test_concurrent_processes_build_once(tmp_path):
    lock_file = tmp_path / "lock.json"
    lock_file.write_text(json.dumps(SIX))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "jupyter_jobs.pyenv.cache", "--root", str(tmp_path / "envs"), "ensure", str(lock_file)]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(4)
    ]
    outputs = [proc.communicate() for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    assert {out.strip() for out, _ in outputs} == {str(tmp_path / "envs" / lock_key(SIX))}
    assert sum("built environment" in err for _, err in outputs) == 1


def test_lru_prune_keeps_envs_in_use(tmp_path):
    cache = EnvCache(tmp_path / "envs")
    python = SIX["python"]
    old = cache.ensure(EnvLock(python=python).to_dict())
    mid = cache.ensure(EnvLock(python=python, requirements=["six==1.16.0"]).to_dict())
    new = cache.ensure(SIX)
    os.utime(mid / ".last-used", (2, 2))
    sizes = {entry.key: entry.size_bytes for entry in cache.list()}
    with cache.use(EnvLock(python=python).to_dict()) as in_use:  # a job is using the oldest one
        assert in_use == old
        os.utime(old / ".last-used", (1, 1))
        removed = cache.prune(max_bytes=sizes[old.name] + sizes[new.name])
    assert removed == [mid.name]
    assert old.is_dir() and new.is_dir() and not mid.exists()
    os.utime(old / ".last-used", (1, 1))
    assert cache.prune(max_bytes=sizes[new.name]) == [old.name]  # released now, least recently used
    assert [entry.key for entry in cache.list()] == [new.name]
    assert cache.prune(0) == [new.name] and cache.list() == []


def test_max_bytes_prunes_after_a_build(tmp_path):
    cache = EnvCache(tmp_path / "envs", max_bytes=1)
    first = cache.ensure(EnvLock(python=SIX["python"]).to_dict())
    second = cache.ensure(SIX)
    assert second.is_dir() and not first.exists()  # the new one is kept even above the limit


def test_failed_build_leaves_nothing(tmp_path):
    cache = EnvCache(tmp_path / "envs")
    bad = EnvLock(python=SIX["python"], requirements=["no-such-package-jupyter-jobs-xyz==1"]).to_dict()
    with pytest.raises(EnvBuildError, match="no-such-package-jupyter-jobs-xyz"):
        cache.ensure(bad)
    assert cache.list() == [] and not list((tmp_path / "envs").glob(".build-*"))


def test_local_path_requirement_resolved_in_workdir(tmp_path):
    job = tmp_path / "job"
    (job / "lib" / "tinypkg_xyz").mkdir(parents=True)
    (job / "lib" / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "tinypkg-xyz"\nversion = "0.1"\n'
    )
    (job / "lib" / "tinypkg_xyz" / "__init__.py").write_text("VALUE = 42\n")
    lock = EnvLock(python=SIX["python"], requirements=["./lib"], sources={"./lib": "digest"}).to_dict()
    venv = EnvCache(tmp_path / "envs").ensure(lock, workdir=job)
    assert py(venv, "import tinypkg_xyz; print(tinypkg_xyz.VALUE)").stdout.strip() == "42"
