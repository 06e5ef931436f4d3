"""Benchmark Python environments: detection, cold build, warm start. Figures are ratios from one run.

    python benchmarks/envs.py [--repeats N]

1. `generate-requirements` on a script importing ten installed packages (plus two optional imports):
   ours against the reference `datasphere generate-requirements` (PyPI `datasphere==0.10.0`, installed
   by this script into its own venv together with the same ten packages, since it executes the script).
2. Cold build of a 4-package lock: `EnvCache.ensure` (uv) against `python -m venv` + pip, both with
   empty download caches.
3. Warm start (`ensure` hitting the cache) against that cold build.
Needs the network to PyPI. Medians of a few repeats; no thresholds (goals are printed next to figures).
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jupyter_jobs.pyenv.cache import EnvCache, find_uv  # noqa: E402

#: import name -> distribution; all installed here (the reference venv gets the same versions).
TEN = {
    "yaml": "PyYAML",
    "pydantic": "pydantic",
    "sqlalchemy": "SQLAlchemy",
    "jinja2": "Jinja2",
    "tornado": "tornado",
    "traitlets": "traitlets",
    "tqdm": "tqdm",
    "requests": "requests",
    "click": "click",
    "attrs": "attrs",
}
OPTIONAL_INSTALLED, OPTIONAL_MISSING = "six", "not_installed_pkg_xyz"
LOCK_PACKAGES = ["six==1.17.0", "idna==3.10", "attrs==25.3.0", "tomli==2.2.1"]


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def script(folder: Path) -> Path:
    body = "".join(f"import {name}\n" for name in TEN)
    body += f"try:\n    import {OPTIONAL_INSTALLED}\nexcept ImportError:\n    pass\n"
    body += f"try:\n    import {OPTIONAL_MISSING}\nexcept ImportError:\n    pass\n"
    body += "\nif __name__ == '__main__':\n    print('ok')\n"
    (folder / "main.py").write_text(body)
    return folder / "main.py"


def pins(text: str) -> set[str]:
    return {
        line.split("==")[0].split(" ")[0].lower() for line in text.splitlines() if line and not line.startswith("#")
    }


def bench_detection(tmp: Path, repeats: int) -> list[tuple[str, str]]:
    uv = find_uv()
    work = tmp / "detect"
    work.mkdir()
    script(work)
    ours_cmd = [
        sys.executable,
        "-c",
        "from jupyter_jobs.pyenv.generate import generate_requirements as g; print(g(['main.py']), end='')",
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    ours_out = subprocess.run(ours_cmd, cwd=work, env=env, capture_output=True, text=True, check=True).stdout
    ours = median_time(lambda: subprocess.run(ours_cmd, cwd=work, env=env, capture_output=True, check=True), repeats)
    from jupyter_jobs.pyenv.generate import generate_requirements

    cwd = os.getcwd()
    os.chdir(work)
    try:
        in_process = median_time(lambda: generate_requirements(["main.py"]), repeats)
    finally:
        os.chdir(cwd)
    rows = [
        ("detection: ours (new process)", f"{ours * 1000:.0f} ms"),
        ("detection: ours (in process)", f"{in_process * 1000:.0f} ms"),
    ]

    ref = tmp / "ref-venv"
    pinned = [f"{dist}=={metadata.version(dist)}" for dist in TEN.values()] + [f"six=={metadata.version('six')}"]
    setup = subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(ref)], capture_output=True, text=True)
    if setup.returncode == 0:
        setup = subprocess.run(
            [uv, "pip", "install", "-q", "--python", str(ref / "bin" / "python"), "datasphere==0.10.0", *pinned],
            capture_output=True,
            text=True,
        )
    versions = "same versions as here"
    if setup.returncode != 0:  # the reference's own pins clash with a version here: let the resolver pick
        versions = "versions picked by the resolver (the reference's pins clash with this machine's)"
        setup = subprocess.run(
            [
                uv,
                "pip",
                "install",
                "-q",
                "--python",
                str(ref / "bin" / "python"),
                "datasphere==0.10.0",
                *TEN.values(),
                "six",
            ],
            capture_output=True,
            text=True,
        )
    if setup.returncode != 0:
        rows.append(("detection: reference", f"could not install datasphere==0.10.0: {setup.stderr.strip()[-300:]}"))
        return rows
    rows.append(("reference venv", versions))
    ref_cmd = [str(ref / "bin" / "datasphere"), "generate-requirements", "-o", "ref.txt", "main.py"]
    done = subprocess.run(ref_cmd, cwd=work, capture_output=True, text=True)
    if done.returncode != 0:
        rows.append(("detection: reference", f"failed (exit {done.returncode}): {done.stderr.strip()[-300:]}"))
        return rows
    ref_out = (work / "ref.txt").read_text()
    reference = median_time(lambda: subprocess.run(ref_cmd, cwd=work, capture_output=True, check=True), repeats)
    rows.append(("detection: reference datasphere 0.10.0", f"{reference * 1000:.0f} ms"))
    rows.append(("detection speed-up, new process (goal >= 5x)", f"{reference / ours:.1f}x"))
    rows.append(("detection speed-up, in process", f"{reference / in_process:.1f}x"))
    wanted = {dist.lower() for dist in TEN.values()}
    for name, out in (("ours", ours_out), ("reference", ref_out)):
        found = pins(out)
        extra = sorted(found - wanted - {"six"}) or "none"
        summary = f"{len(found & wanted)}/10 imported; optional installed `six` pinned: {'six' in found}; "
        summary += f"optional missing pinned: {OPTIONAL_MISSING in found}; other pins: {extra}"
        rows.append((f"{name}: pins", summary))
    return rows


def bench_builds(tmp: Path, repeats: int) -> list[tuple[str, str]]:
    lock = {"python": "{}.{}".format(*sys.version_info[:2]), "requirements": LOCK_PACKAGES}
    counter = iter(range(10**6))

    def uv_cold() -> None:
        n = next(counter)
        os.environ["UV_CACHE_DIR"] = str(tmp / f"uv-cache-{n}")  # nothing downloaded yet
        try:
            EnvCache(tmp / f"envs-{n}").ensure(lock)
        finally:
            del os.environ["UV_CACHE_DIR"]

    def pip_cold() -> None:
        target = tmp / f"pip-venv-{next(counter)}"
        subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
        subprocess.run(
            [
                str(target / "bin" / "pip"),
                "install",
                "-q",
                "--no-cache-dir",
                "--disable-pip-version-check",
                *LOCK_PACKAGES,
            ],
            check=True,
            capture_output=True,
        )

    uv_time = median_time(uv_cold, repeats)
    pip_time = median_time(pip_cold, repeats)
    warm_cache = EnvCache(tmp / "envs-warm")
    warm_cache.ensure(lock)
    warm = median_time(lambda: warm_cache.ensure(lock), max(repeats, 20))
    return [
        ("cold build: uv (EnvCache.ensure)", f"{uv_time * 1000:.0f} ms"),
        ("cold build: python -m venv + pip", f"{pip_time * 1000:.0f} ms"),
        ("cold build speed-up (goal >= 3x)", f"{pip_time / uv_time:.1f}x"),
        ("warm start: ensure hit", f"{warm * 1e6:.0f} us"),
        ("warm vs cold uv build (goal >= 20x)", f"{uv_time / warm:.0f}x"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jj-bench-envs-") as folder:
        tmp = Path(folder)
        rows = bench_detection(tmp, args.repeats) + bench_builds(tmp, args.repeats)
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
