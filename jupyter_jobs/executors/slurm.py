"""The Slurm executor: each run is a Slurm batch job whose batch script is the runner, shipped as one
zipapp file (`shipping.py`); the service talks to Slurm with its plain commands (sbatch, squeue, sacct,
scancel, sinfo) from a login node, no compiled bindings.

    job name     = the run id (a start cut short, or a restarted server, finds the job again)
    batch script = `exec python3 <data dir>/runner/jupyter-jobs-runner-*.pyz <run dir>`: the runner is
                   the batch shell, so `scancel --batch --signal=TERM` reaches only it; it reads cancel.json
                   and passes the spec's graceful signal to the job once, or kills it (hard cancel, with
                   a plain `scancel` as the backstop)
    resources    = --cpus-per-task and --mem as reserved (at most the partition's largest node), and the
                   partition and GRES of the instance type (`c.SlurmExecutor.instance_map`)
    events, outputs = written by the runner into the run dir, on the file system the nodes share with the
                   service (`c.SlurmExecutor.path_map`; identity for a one-node cluster on this machine)
    state        = squeue while the controller holds the job, then sacct; a job that ended without the
                   runner's result (TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, PREEMPTED, ...) gets one saying so
"""

from __future__ import annotations

import math
import os
import re
import shlex
import subprocess
import threading
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from traitlets import Dict, Float, List, Unicode
from traitlets.config import LoggingConfigurable

from ..errors import ExecutorError
from ..instances import InstanceType
from ..runner import layout, protocol
from .base import Executor, ExecutorMeta, Launch, Liveness, gpu_count, oversize_note
from .capacity import EngineCapacity
from .shared_fs import SECRETS_FILE, SharedFileSystem
from .shipping import runner_command, runner_zipapp

BATCH_SCRIPT = "slurm-batch.sh"
RUNNER_OUT = "runner.out"  # the batch step's own stdout and stderr (the runner's, not the job's)
#: Job states after which Slurm runs nothing more of the job (squeue -t all / sacct).
ENDED = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED",
                   "BOOT_FAIL", "DEADLINE", "REVOKED", "SPECIAL_EXIT"})
#: Why Slurm ended a job, for a job whose runner could not write its own result.
ENDED_BECAUSE = {
    "TIMEOUT": "Slurm stopped the job at its time limit",
    "OUT_OF_MEMORY": "Slurm stopped the job: it ran out of memory; choose an instance type with more memory",
    "NODE_FAIL": "the Slurm node running the job failed",
    "PREEMPTED": "Slurm preempted the job for another one",
    "BOOT_FAIL": "the Slurm node for the job could not boot",
    "DEADLINE": "the job reached its Slurm deadline",
    "CANCELLED": "the job was cancelled in Slurm (scancel)",
}
#: Seconds a hard cancel leaves the runner to kill its job before `scancel` ends every process of it.
HARD_CANCEL_GRACE_S = 10.0
#: --time is the spec's timeout + its graceful shutdown + this, so the runner's own timeout acts first.
_STOP_MARGIN_S = 60
_UNREACHABLE = ("unable to contact slurm controller", "connection refused", "connect failure", "timed out",
                "socket timed out", "problem talking to the database", "persistent connection")


class SlurmUnreachable(ExecutorError):
    """A Slurm daemon (slurmctld, slurmdbd) did not answer: what it knows is unknown, not "gone"."""


@dataclass
class Node:
    name: str
    cpus: int
    memory_gb: float
    gpus: int


class SlurmExecutor(SharedFileSystem, EngineCapacity, LoggingConfigurable, Executor, metaclass=ExecutorMeta):
    """Runs each job as a Slurm batch job on an existing cluster (`c.SlurmExecutor.*` options)."""

    name = "slurm"
    features = frozenset({"python-env", "gpus"})
    shares_host = False

    python = Unicode("python3", help="Python on the compute nodes that runs the runner (3.8 or newer; it "
                                     "needs only the standard library).").tag(config=True)
    partition = Unicode("", help="Partition for instance types `instance_map` does not place; default: the "
                                 "cluster's default partition.").tag(config=True)
    instance_map = Dict(Dict(), help="Instance type -> {'partition': NAME, 'gres': 'gpu:a100:1', 'sbatch_args': "
                                     "[...]}. Without a gres, a GPU type asks for --gres=gpu:N.").tag(config=True)
    sbatch_args = List(Unicode(), help="Arguments added to every sbatch (e.g. --account=..., --qos=...)."
                       ).tag(config=True)
    command_timeout = Float(30.0, help="Seconds a Slurm command may take before Slurm counts as unreachable."
                            ).tag(config=True)

    # -- what the cluster has -----------------------------------------------------------------------
    def engine_totals(self) -> tuple[float, float, int]:
        nodes = self._used_nodes()
        return sum(n.cpus for n in nodes), sum(n.memory_gb for n in nodes), sum(n.gpus for n in nodes)

    @cached_property
    def _cluster(self) -> tuple[str, dict[str, list[Node]]]:
        """The default partition and each partition's nodes (`sinfo`, once per executor)."""
        out = self._run(["sinfo", "-h", "-N", "-o", "%N|%P|%c|%m|%G"])
        default_partition, partitions = "", {}
        for line in out.splitlines():
            name, partition, cpus, memory_mb, gres = line.split("|")
            if partition.endswith("*"):
                partition = default_partition = partition[:-1]
            partitions.setdefault(partition, []).append(
                Node(name, int(cpus), int(memory_mb.rstrip("+")) / 1024, _gpus_of(gres)))
        return default_partition, partitions

    def _partition_of(self, instance: str) -> str:
        return (self.instance_map.get(instance, {}).get("partition") or self.partition
                or self._cluster[0])

    def _nodes(self, partition: str) -> list[Node]:
        return self._cluster[1].get(partition, [])

    def _used_nodes(self) -> list[Node]:
        used = {self.partition or self._cluster[0]} | {m["partition"] for m in self.instance_map.values()
                                                          if m.get("partition")}
        return list({n.name: n for p in used for n in self._nodes(p)}.values())

    # -- the Executor interface ---------------------------------------------------------------------
    def refusal(self, instance: InstanceType) -> str | None:
        partition = self._partition_of(instance.name)
        nodes = self._nodes(partition)
        if not nodes:
            return f"the Slurm partition {partition!r} does not exist (c.SlurmExecutor.instance_map / partition)"
        gres = self._gres(instance.name, instance.whole_gpus)
        wanted = _gpus_of(gres or "")
        if wanted and not any(n.gpus >= wanted for n in nodes):
            most = max(n.gpus for n in nodes)
            return (f"needs {gpu_count(wanted)} ({instance.gpu_kind or 'any'}); no node of the Slurm partition "
                    f"{partition!r} has {wanted} (at most {most}), so Slurm would refuse --gres={gres}")
        return None

    def _gres(self, instance: str, gpus: int) -> str | None:
        """The GRES an instance type asks for: its `instance_map` entry's, else gpu:N for N GPUs."""
        return self.instance_map.get(instance, {}).get("gres") or (f"gpu:{gpus}" if gpus else None)

    def notes(self, instance: InstanceType) -> list[str]:
        partition = self._partition_of(instance.name)
        cpus, memory = self._largest(partition)
        return oversize_note(instance, cpus, memory, f"the largest node of the Slurm partition {partition!r}",
                             "so the job gets that")

    def _largest(self, partition: str) -> tuple[float, float]:
        nodes = self._nodes(partition)
        return max((n.cpus for n in nodes), default=0), max((n.memory_gb for n in nodes), default=0.0)

    def gpu_env(self, gpus: list[str]) -> dict[str, str]:
        return {}  # Slurm sets CUDA_VISIBLE_DEVICES for the GPUs it gives the job

    def env_build_hint(self) -> str | None:
        return "the environment is built on the Slurm compute node: it needs the package index (or a mirror)"

    def start(self, run_dir: Path, env: dict[str, str], launch: Launch | None = None) -> dict:
        run_dir = Path(run_dir)
        launch = launch or Launch(run_id=run_dir.name, instance="?")
        found = self._job_named(launch.run_id)
        if found:  # submitted before by a start that was cut short: the same run, adopt it
            return {"job_id": found}
        argv = runner_command(self.python, self.map_path(self._zipapp), self.map_path(run_dir))
        script = run_dir / BATCH_SCRIPT
        script.write_text(f"#!/bin/sh\n# jupyter-jobs run {launch.run_id}: the runner is the batch shell.\n"
                          f"exec {shlex.join(argv)}\n")
        sbatch = ["sbatch", "--parsable", f"--job-name={launch.run_id}", f"--chdir={self.map_path(run_dir)}",
                  f"--output={self.map_path(run_dir / RUNNER_OUT)}", *self._resources(launch, run_dir),
                  *self.sbatch_args, *self.instance_map.get(launch.instance, {}).get("sbatch_args", []), str(script)]
        try:
            out = self._run(sbatch, env={**os.environ, **self.hand_over_secrets(run_dir, env)})
        except SlurmUnreachable:
            raise
        except ExecutorError as exc:
            raise ExecutorError(self._refused(exc.message, sbatch)) from None
        job_id = out.strip().split(";")[0]
        layout.append_system(run_dir, f"submitted to Slurm as job {job_id} (partition "
                                      f"{self._partition_of(launch.instance)}): waiting for Slurm to start it")
        return {"job_id": job_id}

    @cached_property
    def _zipapp(self) -> Path:
        """The shipped runner in the data dir, built once per executor (finding its modules takes a while)."""
        return runner_zipapp(Path(self.parent.data_dir) / "runner")

    def _resources(self, launch: Launch, run_dir: Path) -> list[str]:
        """sbatch options for the reserved resources, the instance type's partition and GRES, and a time
        limit past the spec's own timeout (so the runner's timeout, with its clear message, acts first)."""
        partition = self._partition_of(launch.instance)
        cpus, memory = self._largest(partition)
        reserved = launch.resources or {}
        args = [f"--partition={partition}",
                f"--cpus-per-task={max(1, math.ceil(min(reserved.get('cpus') or 1, cpus)))}",
                f"--mem={max(1, int(min(reserved.get('memory_gb') or 1, memory) * 1024))}M"]
        gres = self._gres(launch.instance, len(reserved.get("gpus") or []))
        if gres:
            args.append(f"--gres={gres}")
        plan = protocol.Plan.from_dict(layout.read_json(run_dir / protocol.PLAN))
        if plan.timeout:
            args.append(f"--time={math.ceil((plan.timeout + plan.graceful.timeout + _STOP_MARGIN_S) / 60)}")
        return args

    @staticmethod
    def _refused(message: str, sbatch: list[str]) -> str:
        gres = next((a for a in sbatch if a.startswith("--gres=")), None)
        if gres and re.search(r"gres|node configuration is not available", message, re.IGNORECASE):
            return f"Slurm refused {gres}: no node of the partition has such GPUs ({message})"
        return f"Slurm refused the job: {message}"

    def liveness(self, handle: dict, run_dir: Path) -> Liveness:
        try:
            state = self.job_state(handle["job_id"])
        except SlurmUnreachable:
            return Liveness.UNKNOWN
        if state is None:
            return Liveness.GONE  # unknown to the controller and to the accounting: nothing runs it
        if state[0] not in ENDED:
            return Liveness.ALIVE
        self._explain_end(Path(run_dir), handle["job_id"], *state)
        return Liveness.GONE

    def job_state(self, job_id: str) -> tuple[str, str] | None:
        """(state, exit code "N:S") from squeue while the controller holds the job, else from sacct;
        None when neither knows it. Raises SlurmUnreachable when one that must answer does not."""
        try:
            out = self._run(["squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T|%r"])
        except SlurmUnreachable:
            raise
        except ExecutorError as exc:
            if "invalid job id" not in exc.message.lower():
                raise SlurmUnreachable(exc.message) from None
            out = ""
        if out.strip():
            state = out.split("|")[0].strip()
            if state not in ENDED:
                return state, ""
        try:
            rows = self._run(["sacct", "-X", "-n", "-P", "-j", job_id, "-o", "State,ExitCode"]).splitlines()
        except SlurmUnreachable:
            raise
        except ExecutorError as exc:
            if "accounting storage is disabled" not in exc.message.lower():
                raise SlurmUnreachable(exc.message) from None
            rows = []  # a cluster without accounting: what squeue said is all there is
        if rows:
            state, exit_code = rows[-1].split("|")[:2]
            return state.split()[0], exit_code  # "CANCELLED by 1000" -> CANCELLED
        return (out.split("|")[0].strip(), "") if out.strip() else None

    def _explain_end(self, run_dir: Path, job_id: str, state: str, exit_code: str) -> None:
        """The job ended and its runner wrote no result (killed with its node, out of memory, past the time
        limit, cancelled before it started): write the result Slurm's state gives, once."""
        (run_dir / SECRETS_FILE).unlink(missing_ok=True)  # a runner that never started left them there
        if (run_dir / protocol.RESULT).exists():
            return
        code, _, sig = exit_code.partition(":")
        exit_status = 128 + int(sig) if sig.isdigit() and int(sig) else (int(code) if code.isdigit() else None)
        cancel = layout.read_json(run_dir / protocol.CANCEL) if (run_dir / protocol.CANCEL).exists() else None
        # Cancelled on request: also when the signal came before the runner could handle it (it died of it).
        if cancel is not None and state not in ("TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED"):
            status, error = protocol.Status.CANCELLED, cancel.get("reason") or "cancelled"
        else:
            status = protocol.Status.FAILED
            why = ENDED_BECAUSE.get(state, "the runner ended without a result")
            error = f"{why} (Slurm job {job_id}: {state}, exit code {exit_code or '?'}; see {RUNNER_OUT})"
        layout.append_system(run_dir, error)
        layout.write_json(run_dir / protocol.RESULT, {"status": status, "exit_code": exit_status,
                                                       "error": error, "finished_at": time.time()})

    def signal_cancel(self, handle: dict, run_dir: Path) -> bool:
        """SIGTERM to the batch shell only (`scancel --batch`): the runner, which reads cancel.json and
        signals the job once (graceful) or kills it at once (hard), then writes the result. A plain
        `scancel` would signal the job's processes too, racing the runner; it is the backstop of a hard
        cancel whose runner has not ended the job after HARD_CANCEL_GRACE_S, and removes a job Slurm has
        not started."""
        job_id = handle.get("job_id")
        if not job_id:
            return False
        try:
            state = self.job_state(job_id)
        except SlurmUnreachable:
            return True  # the runner still polls cancel.json
        if state is None or state[0] in ENDED:
            return False
        if state[0] == "PENDING":
            self._scancel(job_id)
            return True
        self._scancel(job_id, "--batch", "--signal=TERM")
        request = layout.read_json(Path(run_dir) / protocol.CANCEL) or {}
        if not request.get("graceful", True):
            timer = threading.Timer(HARD_CANCEL_GRACE_S, self._scancel_if_running, (job_id,))
            timer.daemon = True
            timer.start()
        return True

    def _scancel(self, job_id: str, *options: str) -> None:
        try:
            self._run(["scancel", *options, job_id])
        except ExecutorError as exc:
            self.log.warning("scancel %s: %s", job_id, exc.message)

    def _scancel_if_running(self, job_id: str) -> None:
        try:
            state = self.job_state(job_id)
        except ExecutorError:
            return
        if state is not None and state[0] not in ENDED:
            self._scancel(job_id)

    # -- Slurm's commands ---------------------------------------------------------------------------
    def _job_named(self, run_id: str) -> str | None:
        """The id of a job of ours named `run_id` that the controller still holds, if any."""
        out = self._run(["squeue", "-h", "-t", "all", "--me", f"--name={run_id}", "-o", "%i"])
        ids = out.split()
        return ids[0] if ids else None

    def _run(self, argv: list[str], env: dict[str, str] | None = None) -> str:
        """Run a Slurm command; its error as one line. SlurmUnreachable when a daemon does not answer."""
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=self.command_timeout,
                                  env=env, stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise ExecutorError(f"the Slurm command {argv[0]!r} is not installed here",
                                hint="run the server on a Slurm login node, or install Slurm's client "
                                     "commands (Debian: slurm-client) with the cluster's slurm.conf") from None
        except subprocess.TimeoutExpired:
            raise SlurmUnreachable(f"`{argv[0]}` did not answer in {self.command_timeout:g} s") from None
        if proc.returncode:
            lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
            message = "; ".join(re.sub(r"^\w+: (error|fatal): ", "", ln) for ln in lines[-2:]) or \
                f"`{argv[0]}` failed with exit code {proc.returncode}"
            if any(marker in message.lower() for marker in _UNREACHABLE) or "SRV lookup" in message:
                raise SlurmUnreachable(f"Slurm does not answer: {message}",
                                       hint="check the controller, and SLURM_CONF on this machine")
            raise ExecutorError(message)
        return proc.stdout


def _gpus_of(gres: str) -> int:
    """GPUs of a node from sinfo's %G: "gpu:2", "gpu:a100:4(S:0-1)", "gpu:a100:2,mps:100", "(null)"."""
    count = 0
    for part in gres.split(","):
        fields = re.sub(r"\(.*\)$", "", part).split(":")
        if fields[0] == "gpu" and len(fields) >= 2 and fields[-1].isdigit():
            count += int(fields[-1])
    return count
