"""The embedded default: the runner as a detached process group on this machine."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from functools import cached_property
from pathlib import Path

from ..instances import InstanceType
from .base import Executor


class LocalExecutor(Executor):
    name = "local"
    features = frozenset({"python-env"})

    def __init__(self, gpus: list[str] | None = None, cpus: float = 0, memory_gb: float = 0):
        self._declared_gpus = gpus
        self._declared_cpus = cpus
        self._declared_memory = memory_gb

    @cached_property
    def gpus(self) -> list[str]:
        """Declared by the operator, else what `nvidia-smi -L` lists (asked only when a job needs GPUs)."""
        if self._declared_gpus is not None:
            return list(self._declared_gpus)
        if not shutil.which("nvidia-smi"):
            return []
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return []
        return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]

    @cached_property
    def cpus(self) -> float:
        if self._declared_cpus:
            return self._declared_cpus
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

    @cached_property
    def memory_gb(self) -> float:
        return self._declared_memory or os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9

    def refusal(self, instance: InstanceType) -> str | None:
        if instance.whole_gpus > len(self.gpus):
            have = f"{len(self.gpus)} GPU" + ("s" if len(self.gpus) != 1 else "")
            return f"needs {instance.gpus:g} GPU ({instance.gpu_kind or 'any'}); this machine has {have}"
        return None

    def notes(self, instance: InstanceType) -> list[str]:
        if instance.cpus > self.cpus or instance.memory_gb > self.memory_gb:
            return [f"{instance.name} asks for {instance.cpus:g} vCPU / {instance.memory_gb:g} GB; this "
                    f"machine has {self.cpus} vCPU / {self.memory_gb:.0f} GB, and the local executor "
                    f"does not enforce CPU or memory limits"]
        return []

    def start(self, run_dir: Path, env: dict[str, str]) -> dict:
        with open(run_dir / "runner.out", "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "jupyter_jobs.runner", str(run_dir)],
                cwd=run_dir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, **env},
                start_new_session=True,  # detached: survives the CLI, the kernel and the server
                close_fds=True,
            )
        # Reap it when it ends, so a long-lived server collects no zombies; never blocks exit.
        threading.Thread(target=proc.wait, daemon=True).start()
        return {"pid": proc.pid}

    def is_alive(self, handle: dict, run_dir: Path) -> bool:
        return _is_our_runner(handle.get("pid"), run_dir)

    def signal_cancel(self, handle: dict, run_dir: Path) -> bool:
        pid = handle.get("pid")
        if not _is_our_runner(pid, run_dir):
            return False
        os.kill(pid, signal.SIGTERM)
        return True


def _is_our_runner(pid: int | None, run_dir: Path) -> bool:
    """True if `pid` lives and is the runner of `run_dir` (not a recycled pid)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust the pid
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":
        return False  # exited, not yet reaped
    return str(run_dir).encode() in cmdline
