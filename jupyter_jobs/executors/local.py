"""The embedded default: the runner as a detached process group on this machine."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from functools import cached_property
from pathlib import Path

from ..instances import InstanceType
from ..procs import is_alive, start_time
from . import standby
from .base import Executor, Launch, Liveness, gpu_shortage, oversize_note
from .standby import reap, runner_argv


class LocalExecutor(Executor):
    name = "local"
    features = frozenset({"python-env"})

    def __init__(self, gpus: list[str] | None = None, cpus: float = 0, memory_gb: float = 0):
        self._declared_gpus = gpus
        self._declared_cpus = cpus
        self._declared_memory = memory_gb

    @classmethod
    def from_settings(cls, settings) -> LocalExecutor:
        return cls(settings.local_gpus, settings.local_cpus, settings.local_memory_gb)

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
        """Memory is only accounted when the operator declares it: this executor cannot enforce it, and
        charging every c1.4 run its 32 GB would queue jobs that fit easily."""
        return self._declared_memory or float("inf")

    @cached_property
    def machine_memory_gb(self) -> float:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9

    def refusal(self, instance: InstanceType) -> str | None:
        if instance.whole_gpus > len(self.gpus):
            return gpu_shortage(instance, len(self.gpus), "this machine has")
        return None

    def notes(self, instance: InstanceType) -> list[str]:
        return oversize_note(instance, self.cpus, self.machine_memory_gb, "this machine",
                             "and the local executor does not enforce CPU or memory limits")

    def expect_launch(self) -> None:
        standby.prestart()

    def start(self, run_dir: Path, env: dict[str, str], launch: Launch | None = None) -> dict:
        env = {**os.environ, **env}
        spare = standby.adopt()
        if spare is not None and spare.take(run_dir, env):
            return {"pid": spare.pid, "started": spare.started}
        with open(run_dir / "runner.out", "ab") as out:
            proc = subprocess.Popen(
                runner_argv(str(run_dir)), cwd=run_dir, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, env=env,
                start_new_session=True,  # detached: survives the CLI, the kernel and the server
            )
        reap(proc)
        return {"pid": proc.pid, "started": start_time(proc.pid)}

    def close(self) -> None:
        standby.discard_spare()

    def liveness(self, handle: dict, run_dir: Path) -> Liveness:
        return Liveness.ALIVE if _is_our_runner(handle, run_dir) else Liveness.GONE

    def signal_cancel(self, handle: dict, run_dir: Path) -> bool:
        if not _is_our_runner(handle, run_dir):
            return False
        if (run_dir / "runner.pid").exists():  # else it has not set its handlers: it reads cancel.json itself
            os.kill(handle["pid"], signal.SIGTERM)
        return True


def _is_our_runner(handle: dict, run_dir: Path) -> bool:
    """True if the handle's process lives and is our runner, not a recycled pid. The start time
    identifies it even before it has exec'd the runner (when its command line is still ours)."""
    pid = handle.get("pid")
    if not pid or not is_alive(pid, handle.get("started")):
        return False
    if handle.get("started") is not None or not Path(f"/proc/{pid}/cmdline").exists():
        return True
    return str(run_dir).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
