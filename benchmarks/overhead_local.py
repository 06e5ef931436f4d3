"""What `jupyter jobs execute` costs on top of the job itself, on the local executor.

    python benchmarks/overhead_local.py [--repeat 15]

Measured in one run, each in a fresh temp data dir warmed once (the first command migrates the run
database; that cold run is reported separately):

* `bash -c true` and `python -c pass` (the floor: starting a shell and an interpreter),
* `jupyter-jobs execute -c cfg` for a job whose cmd is `true`, through the real interpreter's script
  (next to sys.executable) and through the `jupyter jobs` launcher (on PATH; pyenv shims add to it),
* the same execute handed to the warm CLI process, what a terminal gets by default (cli/warm.py;
  this script has no terminal, so it sets JUPYTER_JOBS_WARM=1); the goal is on this row,
* the same execute against a running Jupyter server with the extension (what a Lab terminal does:
  the CLI is then a thin HTTP client and imports no SQLAlchemy),
* where the CLI's time goes: `python -X importtime` of `list` and `execute`, summed per top package, and,
  from the run's events.jsonl, submit -> runner started -> job running -> job ended -> CLI done.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

GOAL = 0.30
HERE_SCRIPT = Path(sys.executable).with_name("jupyter-jobs")
CONFIG = "name: overhead\ncmd: 'true'\n"


def timed(argv: list[str], env: dict, cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr.decode()}")
    return elapsed


def fresh_env(root: Path) -> dict:
    """A fresh data dir; bytecode caches written (to one folder of the run's), as an installed package
    has them: with PYTHONDONTWRITEBYTECODE set, every call would compile the package's sources again."""
    data = Path(tempfile.mkdtemp(prefix="data-", dir=root))
    env = dict(os.environ, JUPYTER_JOBS_DATA_DIR=str(data), JUPYTER_CONFIG_DIR=str(data / "config"),
               JUPYTER_CONFIG_PATH=str(data / "config"), PYTHONPYCACHEPREFIX=str(root / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["JUPYTER_JOBS_WARM"] = "0"
    return env


def measure(name: str, argv: list[str], repeat: int, env: dict, work: Path) -> dict:
    """Cold: the first run in a fresh data dir. Warm: the median of `repeat` runs after it."""
    cold = timed(argv, env, work)
    warm = [timed(argv, env, work) for _ in range(repeat)]
    return {"name": name, "cold": cold, "median": statistics.median(warm), "min": min(warm), "max": max(warm),
            "env": env}


def importtime(env: dict, work: Path, args: list[str]) -> dict[str, float]:
    """Import time of `jupyter-jobs ARGS`, per top-level package, in seconds."""
    code = "import sys; from jupyter_jobs.cli.commands import main; main(sys.argv[1:])"
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code, *args], env=env, cwd=work,
                          capture_output=True, text=True)
    totals: dict[str, float] = defaultdict(float)
    for line in proc.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if not match:
            continue
        self_us, _, indent, module = match.groups()
        totals[module.split(".")[0]] += int(self_us) / 1e6  # self times add up without double counting
        totals["(all imports)"] += int(self_us) / 1e6
    return dict(totals)


def phases(env: dict, work: Path, argv: list[str] | None = None) -> dict[str, float]:
    """One more execute (or `argv`), with the run's own timestamps: when the runner wrote its first
    event, when the job started and ended, when the CLI exited."""
    start = time.time()
    subprocess.run(argv or [str(HERE_SCRIPT), "execute", "-c", "config.yaml"], env=env, cwd=work,
                   capture_output=True)
    end = time.time()
    runs = sorted((Path(env["JUPYTER_JOBS_DATA_DIR"]) / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
    events = [json.loads(line) for line in (runs[-1] / "events.jsonl").read_text().splitlines() if line]
    first = events[0]["t"]
    running = next((e["t"] for e in events if e.get("status") == "RUNNING"), first)
    result = next((e["t"] for e in events if e["type"] == "result"), events[-1]["t"])
    return {"CLI start -> runner's first event": first - start, "runner first event -> job RUNNING": running - first,
            "job RUNNING -> result written": result - running, "result -> CLI exit": end - result,
            "total": end - start}


def start_server(root: Path, work: Path) -> tuple[subprocess.Popen, dict]:
    """A Jupyter server with the extension on a free port; the env that points the CLI at it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = secrets.token_hex(16)
    env = fresh_env(root)
    log = Path(env["JUPYTER_JOBS_DATA_DIR"]) / "server.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}", "--ServerApp.port_retries=0",
         "--ServerApp.log_level=WARN"],
        env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    env = dict(env, JUPYTER_JOBS_URL=f"http://127.0.0.1:{port}", JUPYTER_JOBS_TOKEN=token)
    deadline = time.monotonic() + 60
    while subprocess.run([str(HERE_SCRIPT), "list"], env=env, cwd=work, capture_output=True).returncode != 0:
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise SystemExit(f"the Jupyter server did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.3)
    return proc, env


def measure_server(repeat: int, root: Path, work: Path) -> dict:
    proc, env = start_server(root, work)
    try:
        return measure("execute via server", [str(HERE_SCRIPT), "execute", "-c", "config.yaml"], repeat, env, work)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def measure_warm(repeat: int, root: Path, work: Path) -> dict:
    """Execute handed to the warm process: "cold" is the call that starts it (and runs as always)."""
    runtime = Path(tempfile.mkdtemp(prefix="jw-"))
    env = dict(fresh_env(root), JUPYTER_JOBS_WARM="1", XDG_RUNTIME_DIR=str(runtime))
    argv = [str(HERE_SCRIPT), "execute", "-c", "config.yaml"]
    cold = timed(argv, env, work)
    deadline = time.monotonic() + 60
    while not list(runtime.glob("jupyter-jobs-*/warm-????????.sock")):
        if time.monotonic() > deadline:
            raise SystemExit("the warm process did not start (see its .log beside the socket)")
        time.sleep(0.1)
    try:
        warm = [timed(argv, env, work) for _ in range(repeat)]
        return {"name": "execute (warm, terminal)", "cold": cold, "median": statistics.median(warm), "min": min(warm),
                "max": max(warm), "env": env, "phases": phases(env, work)}
    finally:
        for lock in runtime.glob("jupyter-jobs-*/warm-*.lock"):
            os.kill(int(lock.read_text()), 15)


def find_launchers() -> list[tuple[str, list[str]]]:
    """`jupyter jobs` next to this interpreter, and the pyenv shims users call from a shell (the shim
    runs `pyenv exec`, a bash script, before Python starts)."""
    found = []
    here = Path(sys.executable).with_name("jupyter")
    if here.exists():
        found.append(("jupyter jobs (real)", [str(here), "jobs"]))
    shims = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "shims"
    if (shims / "jupyter").exists():
        found.append(("jupyter jobs (shim)", [str(shims / "jupyter"), "jobs"]))
    if (shims / "jupyter-jobs").exists():
        found.append(("jupyter-jobs (shim)", [str(shims / "jupyter-jobs")]))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="warm runs per command (median reported)")
    args = parser.parse_args()
    if not HERE_SCRIPT.exists():
        raise SystemExit(f"{HERE_SCRIPT} not found: pip install -e . into this interpreter first")
    root = Path(tempfile.mkdtemp(prefix="jobs-overhead-"))
    work = root / "work"
    work.mkdir()
    (work / "config.yaml").write_text(CONFIG)
    launchers = find_launchers()
    commands = [
        ("bash -c true", ["bash", "-c", "true"]),
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("jupyter-jobs list", [str(HERE_SCRIPT), "list"]),
        ("jupyter-jobs execute", [str(HERE_SCRIPT), "execute", "-c", "config.yaml"]),
    ]
    for label, argv in launchers:
        commands.append((label, [*argv, "execute", "-c", "config.yaml"]))
    try:
        results = [measure(name, argv, args.repeat, fresh_env(root), work) for name, argv in commands]
        results.append(measure_warm(args.repeat, root, work))
        results.append(measure_server(args.repeat, root, work))
        by_name = {r["name"]: r for r in results}
        print(f"python: {sys.executable}\nrepeat: {args.repeat} (median; cold = first run in a fresh data dir)")
        for label, argv in launchers:
            print(f"{label}: {' '.join(argv)}")
        print()
        print(f"{'command':24} {'cold s':>8} {'median s':>9} {'min s':>7} {'max s':>7}")
        for r in results:
            print(f"{r['name']:24} {r['cold']:8.3f} {r['median']:9.3f} {r['min']:7.3f} {r['max']:7.3f}")
        bash, python = by_name["bash -c true"]["median"], by_name["python -c pass"]["median"]
        execute = by_name["jupyter-jobs execute"]["median"]
        server = by_name["execute via server"]["median"]
        warm = by_name["execute (warm, terminal)"]["median"]
        print(f"\nexecute (warm, terminal) - bash -c true: {warm - bash:.2f} s (goal < {GOAL:.2f} s; warm execute "
              f"{warm:.3f} s, bash -c true {bash:.3f} s, both medians of this run)")
        print(f"execute (no terminal, no warm process) - bash: {execute - bash:.2f} s; warm / plain: "
              f"{warm / execute:.2f}x")
        print(f"execute via server - bash: {server - bash:.2f} s (goal < {GOAL:.2f} s)")
        print(f"execute / bash: {execute / bash:.1f}x   execute / python: {execute / python:.1f}x   "
              f"list / python: {by_name['jupyter-jobs list']['median'] / python:.1f}x")
        for label, _argv in launchers:
            via = by_name[label]["median"]
            print(f"{label}: +{via - execute:.2f} s over the real script ({via / execute:.2f}x)")

        env = by_name["jupyter-jobs execute"]["env"]
        top = ["sqlalchemy", "pydantic", "pydantic_core", "yaml", "traitlets", "jupyter_core", "alembic",
               "jupyter_jobs"]
        for args_ in (["list"], ["execute", "-c", "config.yaml"]):
            imports = importtime(env, work, args_)
            print(f"\nimport time of `jupyter-jobs {' '.join(args_)}` (self times summed per top package):")
            for name in top + ["(all imports)"]:
                print(f"  {name:16} {imports.get(name, 0.0):6.3f} s")
            others = sorted(((v, k) for k, v in imports.items() if k not in top and k != "(all imports)"),
                            reverse=True)[:5]
            print("  others: " + ", ".join(f"{k} {v:.3f}" for v, k in others))

        warm_phases = by_name["execute (warm, terminal)"]["phases"]
        for label, timings in (("one execute", phases(env, work)),
                               ("one execute handed to the warm process", warm_phases)):
            print(f"\n{label}, from the run's events.jsonl:")
            for name, seconds in timings.items():
                print(f"  {name:36} {seconds:6.3f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
