"""A local runner started ahead of its run, so that its interpreter's start and its imports (about
0.1 s) overlap the work before the run's launch instead of following it.

A process holds at most one, its spare. It is started when a submit begins (`LocalExecutor.expect_launch`;
the CLI, whose submit commands know earlier, already when it opens the data dir: `connect`) and handed
the run when the local executor launches one: the run dir and the runner's whole environment, as one
JSON document on its stdin (`runner.entry --standby`). If the process ends first, or lets it go
(`discard_spare`), the pipe closes and the standby exits without doing anything. It is used only if it
still lives and the environment an interpreter reads at its own start (PYTHON*, LANG, LC_*) is
unchanged since it started; otherwise the run gets a fresh runner.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from ..procs import start_time

#: The runner imports only the standard library and this package, so it starts without `site` (`-S`;
#: .pth files and site-packages cost about 50 ms of every run's start), importing this package from the
#: folder it was loaded from. Its argv: the folder, then the runner's own (`python -m jupyter_jobs.runner`).
RUNNER = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
          "from jupyter_jobs.runner.entry import main; sys.exit(main())")
PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent.parent)


def runner_argv(*args: str) -> list[str]:
    return [sys.executable, "-S", "-c", RUNNER, PACKAGE_ROOT, *args]


def reap(proc: subprocess.Popen) -> None:
    """Collect it when it ends, so a long-lived server keeps no zombies; never blocks exit."""
    threading.Thread(target=proc.wait, daemon=True).start()


def interpreter_env(env: dict[str, str]) -> dict[str, str]:
    """What of an environment Python reads when it starts (encodings, paths, hash seed, ...)."""
    return {k: v for k, v in env.items() if k.startswith(("PYTHON", "LC_")) or k == "LANG"}


class Standby:
    """One runner waiting for its run; `env` is the launcher's environment now."""

    def __init__(self, env: dict[str, str]):
        proc = subprocess.Popen(runner_argv("--standby"), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=env,
                                start_new_session=True)  # detached: its run outlives the launcher
        self.pid = proc.pid
        self.started = start_time(proc.pid)
        self._interpreter_env = interpreter_env(env)
        self._pipe, proc.stdin = proc.stdin, None  # the reaper holds `proc`; closing this ends an unused standby
        self._proc = proc
        reap(proc)

    @property
    def ended(self) -> bool:
        return self._proc.returncode is not None  # set by its reaper

    def take(self, run_dir: Path, env: dict[str, str]) -> bool:
        """Hand it the run (`env`: the runner's whole environment). False, and it exits, if it cannot
        be used: it has ended, or `env` differs in what an interpreter reads at its start."""
        if self.ended or interpreter_env(env) != self._interpreter_env:
            self.discard()
            return False
        try:
            self._pipe.write(json.dumps({"run_dir": str(run_dir), "env": env}).encode())
            self._pipe.close()
        except OSError:  # it died before reading
            self.discard()
            return False
        return True

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self._pipe.close()


_spare: Standby | None = None
_spare_lock = threading.Lock()


def prestart() -> None:
    """Start this process's spare now, unless one waits already. Never fails: if it cannot start, the
    launch starts a fresh runner and says why."""
    global _spare
    with _spare_lock, contextlib.suppress(OSError):
        if _spare is None or _spare.ended:
            _spare = Standby(dict(os.environ))


def adopt() -> Standby | None:
    """This process's spare, for the launch at hand (it is no longer the spare)."""
    global _spare
    with _spare_lock:
        spare, _spare = _spare, None
    return spare


def discard_spare() -> None:
    spare = adopt()
    if spare is not None:
        spare.discard()
