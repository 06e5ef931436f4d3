"""The Ray executor: each run is a Ray job (Ray's Jobs API, `JobSubmissionClient`) whose entrypoint
is the runner, shipped as one zipapp file (`shipping.py`).

    submission id   = the run id (a restarted service finds the job again; a repeated submit adopts it)
    entrypoint      = `exec python3 <data dir>/runner/jupyter-jobs-runner-*.pyz --supervised <run dir>`
    resources       = the instance type's CPUs, memory and GPUs (and accelerator kind when the cluster
                      labels its GPUs), as far as the cluster has them
    events, outputs = transport "shared-fs" (default): written by the runner into the run dir on a file
                      system the nodes share with the service (`c.RayExecutor.path_map`; identity for a
                      head on this machine); transport "relay": no shared disk, the runner's run dir is
                      node-local and its events and outputs come back through the Ray job's log
                      (`ray_relay.py`, read at every liveness check)

Cancel: the runner polls cancel.json, so the spec's graceful signal (or SIGKILL, for a hard cancel)
reaches the job once (Ray's `stop_job` would SIGTERM every process of the job, the runner too);
`stop_job` follows only if the job still runs when the grace is over, and at once for a job Ray has
not started. `--supervised`: if Ray kills the runner's supervisor, the runner and the job's process
group end too.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import threading
import time
from functools import cached_property
from pathlib import Path

from traitlets import Enum, Float, Unicode, default
from traitlets.config import LoggingConfigurable

from ..errors import ExecutorError, JobsError
from ..instances import Catalogue, InstanceType
from ..runner import layout, protocol
from . import ray_relay
from .base import Executor, ExecutorMeta, Launch, Liveness, gpu_shortage, oversize_note
from .capacity import EngineCapacity
from .shared_fs import SECRETS_FILE, SharedFileSystem
from .shipping import runner_command, runner_zipapp

GB = 10**9
_ACCELERATOR = "accelerator_type:"  # Ray's resource naming a node's GPU kind (e.g. accelerator_type:A100)
_STOP_MARGIN = 5.0  # seconds after the graceful timeout before stop_job is sent


class RayExecutor(SharedFileSystem, EngineCapacity, LoggingConfigurable, Executor, metaclass=ExecutorMeta):
    """Runs each job as a Ray job on an existing Ray cluster (`c.RayExecutor.*` options)."""

    name = "ray"
    features = frozenset({"python-env", "gpus"})
    shares_host = False

    address = Unicode(help="The Ray Jobs API: the head's dashboard address, http://HEAD:8265 (KubeRay: the "
                           "head service, or a port-forward of its dashboard port). Default: $RAY_ADDRESS."
                      ).tag(config=True)
    python = Unicode("python3", help="Python on the Ray nodes that runs the runner (3.8 or newer; it needs "
                                     "only the standard library).").tag(config=True)
    token_secret = Unicode("", help="Name of the secret (jupyter jobs secrets set NAME) holding the cluster's "
                                    "token, sent as `Authorization: Bearer` (Ray's token authentication, or "
                                    "a proxy in front of the dashboard).").tag(config=True)

    transport = Enum(["shared-fs", "relay"], "shared-fs", help=(
        "How a job's events and outputs come back: 'shared-fs', the runner writes the run dir on a file "
        "system the nodes share with this machine (path_map); 'relay', nothing is shared: the runner keeps "
        "its run dir on the node and relays events and outputs through the Ray job's log (outputs up to "
        "64 MiB; no datasets, project disk or env.python).")).tag(config=True)
    node_dir = Unicode("/tmp/jupyter-jobs-relay", help="With transport 'relay': the node-local folder where "
                                                     "runners keep their run dirs (removed when they end)."
                       ).tag(config=True)
    relay_interval = Float(1.0, help="With transport 'relay': seconds between two reads of a running job's "
                                     "log (a finished job's is read at once).").tag(config=True)

    # -- configuration ------------------------------------------------------------------------------
    @default("address")
    def _address(self):
        return os.environ.get("RAY_ADDRESS", "")

    @property
    def relayed(self) -> bool:
        return self.transport == "relay"

    def map_path(self, path: Path) -> str:
        """Relay: a run dir is the node's `node_dir`/RUN_ID; other paths stay this machine's (the staging
        folder takes what the runner needs from them; path_map is not used)."""
        if not self.relayed:
            return super().map_path(path)
        runs = self._data_dir / "runs"
        if Path(path) == runs or runs in Path(path).parents:
            return str(Path(self.node_dir, Path(path).relative_to(runs)))
        return str(path)

    def engine_totals(self) -> tuple[float, float, int]:
        return self._cluster["CPU"], self._cluster["memory"] / GB, int(self._cluster["GPU"])

    @property
    def _data_dir(self) -> Path:
        return Path(self.parent.data_dir) if self.parent is not None else Path(os.environ["JUPYTER_JOBS_DATA_DIR"])

    @property
    def _where(self) -> str:
        return self.address or "$RAY_ADDRESS (unset)"

    @cached_property
    def _headers(self) -> dict[str, str]:
        if not self.token_secret:
            return {}
        token = self.secrets().get(self.token_secret)
        if not token:
            raise ExecutorError(f"c.RayExecutor.token_secret names the secret {self.token_secret!r}, which "
                                f"does not exist", hint=f"jupyter jobs secrets set {self.token_secret}")
        return {"Authorization": f"Bearer {token}"}

    @cached_property
    def client(self):
        """Ray's JobSubmissionClient for `address` (connects now: an unreachable head is said at once)."""
        if not self.address:
            raise ExecutorError("the ray executor needs the Ray cluster's address",
                                hint="set c.RayExecutor.address or RAY_ADDRESS to http://HEAD:8265 "
                                     "(scripts/ray-head.sh start runs one here)")
        try:
            from ray.job_submission import JobSubmissionClient
        except ImportError:
            raise ExecutorError("the ray executor needs Ray's job client",
                                hint="pip install 'jupyter-jobs[ray]'") from None
        try:
            with _explicit_address():
                return JobSubmissionClient(self.address, headers=self._headers or None)
        except (OSError, RuntimeError, ValueError) as exc:
            raise ExecutorError(f"cannot reach the Ray cluster at {self._where}: {_short(exc)}",
                                hint="start it (scripts/ray-head.sh start), or check c.RayExecutor.address "
                                     "and token_secret") from None

    @cached_property
    def _cluster(self) -> dict:
        """Totals of the cluster's live nodes (Ray's State API): CPU, memory, GPU, and GPU kinds."""
        from ray.util.state import StateApiClient
        from ray.util.state.common import ListApiOptions, StateResource

        self.client  # noqa: B018 - says clearly when the cluster is unreachable
        try:
            with _explicit_address():
                state = StateApiClient(self.address, headers=self._headers or None)
            nodes = state.list(StateResource.NODES, ListApiOptions(detail=True, limit=10000),
                               raise_on_missing_output=False)
        except (OSError, RuntimeError) as exc:
            raise ExecutorError(f"cannot list the nodes of the Ray cluster at {self._where}: {_short(exc)}") from None
        totals = {"CPU": 0.0, "memory": 0.0, "GPU": 0.0, "kinds": set()}
        for node in nodes:
            node = node if isinstance(node, dict) else node.__dict__
            if node.get("state") != "ALIVE":
                continue
            resources = node.get("resources_total") or {}
            for key in ("CPU", "memory", "GPU"):
                totals[key] += resources.get(key, 0.0)
            totals["kinds"].update(k[len(_ACCELERATOR):] for k in resources if k.startswith(_ACCELERATOR))
        return totals

    # -- the Executor interface ---------------------------------------------------------------------
    def refusal(self, instance: InstanceType) -> str | None:
        if instance.whole_gpus > len(self.gpus):
            return (gpu_shortage(instance, len(self.gpus), f"the Ray cluster at {self._where} has")
                    + ", and Ray would keep such a job pending for ever")
        kinds = self._cluster["kinds"]
        if instance.gpus and instance.gpu_kind and kinds and instance.gpu_kind not in kinds:
            return (f"needs {instance.gpu_kind} GPUs; the Ray cluster's GPUs are "
                    f"{', '.join(sorted(kinds))}")
        return None

    def notes(self, instance: InstanceType) -> list[str]:
        return oversize_note(instance, self.cpus, self.memory_gb, "the Ray cluster", "so the job gets that")

    def gpu_env(self, gpus: list[str]) -> dict[str, str]:
        return {}  # Ray sets CUDA_VISIBLE_DEVICES for the GPUs it gives the entrypoint

    def start(self, run_dir: Path, env: dict[str, str], launch: Launch | None = None) -> dict:
        run_dir = Path(run_dir)
        launch = launch or Launch(run_id=run_dir.name, instance="?")
        zipapp = runner_zipapp(self._data_dir / "runner")
        plan = protocol.Plan.from_dict(layout.read_json(run_dir / protocol.PLAN))
        staging = None
        if self.relayed:  # the runner, plan, inputs and secrets go up as the job's working_dir
            staging, env_vars = ray_relay.stage(self._data_dir, run_dir, zipapp, env)
            argv = runner_command(self.python, zipapp.name, ".", supervised=True, relay=True)
            runtime_env = {"working_dir": str(staging)}
            if plan.graceful.signal in ("SIGINT", "SIGTERM"):  # stop_job signals the job itself
                env_vars["RAY_JOB_STOP_SIGNAL"] = plan.graceful.signal
        else:
            env_vars = self.hand_over_secrets(run_dir, env)  # never in runtime_env: Ray shows it to all
            argv = runner_command(self.python, self.map_path(zipapp), self.map_path(run_dir), supervised=True)
            runtime_env = {}
        # Ray's stop_job waits this long after its SIGTERM before SIGKILL (read by the job's supervisor).
        env_vars["RAY_JOB_STOP_WAIT_TIME_S"] = str(int(plan.graceful.timeout + _STOP_MARGIN))
        said = f"submitted to the Ray cluster at {self._where} as Ray job {launch.run_id}"
        try:
            self.client.submit_job(
                entrypoint="exec " + shlex.join(argv),  # exec: the supervisor is the runner's parent
                submission_id=launch.run_id, runtime_env={**runtime_env, "env_vars": env_vars},
                metadata={"jupyter-jobs.run-id": launch.run_id, "jupyter-jobs.instance": launch.instance},
                **self._entrypoint_resources(launch))
        except RuntimeError as exc:
            if "already exists" not in str(exc):
                raise ExecutorError(f"the Ray cluster at {self._where} refused the job: {_short(exc)}") from None
            said = f"Ray job {launch.run_id} was submitted already (by a start cut short): adopted it"
        except OSError as exc:
            raise ExecutorError(f"cannot reach the Ray cluster at {self._where}: {_short(exc)}") from None
        finally:
            if staging is not None:  # uploaded (or refused): Ray keeps its own copy
                shutil.rmtree(staging, ignore_errors=True)
        layout.append_system(run_dir, f"{said}: waiting for the Ray cluster to start it")
        return {"submission_id": launch.run_id, "address": self.address}

    def _entrypoint_resources(self, launch: Launch) -> dict:
        """The reserved CPUs, memory and GPUs as Ray entrypoint resources (+ the GPU kind when labelled)."""
        resources = launch.resources or {}
        out: dict = {"entrypoint_num_cpus": resources.get("cpus") or 0}
        if resources.get("memory_gb"):
            out["entrypoint_memory"] = int(resources["memory_gb"] * GB)
        if resources.get("gpus"):
            instance = self._instance(launch.instance)
            # A fraction (a MIG slice, g2.mig) stays one: Ray shares a GPU between fractional requests.
            fraction = instance is not None and 0 < instance.gpus < 1
            out["entrypoint_num_gpus"] = instance.gpus if fraction else len(resources["gpus"])
            kind = instance.gpu_kind if instance else None
            if kind and kind in self._cluster["kinds"]:
                out["entrypoint_resources"] = {f"{_ACCELERATOR}{kind}": 0.001}  # Ray's own convention
        return out

    def _instance(self, name: str) -> InstanceType | None:
        catalogue = Catalogue.load(getattr(self.parent, "instance_types_file", "") or None)
        try:
            return catalogue.get(name)
        except JobsError:  # a name the catalogue no longer has: no kind or fraction known
            return None

    def liveness(self, handle: dict, run_dir: Path) -> Liveness:
        try:
            info = self.client.get_job_info(handle.get("submission_id") or Path(run_dir).name)
        except ExecutorError:
            return Liveness.UNKNOWN
        except RuntimeError as exc:
            if "404" in str(exc):
                # The head forgot the job (it restarted). A runner still beating on a surviving node is alive.
                return Liveness.ALIVE if heartbeat_fresh(run_dir) else Liveness.GONE
            return Liveness.UNKNOWN
        except OSError:
            return Liveness.UNKNOWN  # unreachable is not dead
        if self.relayed:
            self._relay(info.submission_id, Path(run_dir), info.status.is_terminal())
        if not info.status.is_terminal():
            return Liveness.ALIVE
        self._explain_end(Path(run_dir), info)
        return Liveness.GONE

    def _relay(self, sid: str, run_dir: Path, ended: bool) -> None:
        """Apply what the runner relayed through the job's log since the last read (at most every
        `relay_interval` s while it runs; all of it once it ended)."""
        now = time.monotonic()
        if not ended and now - self._relayed_at.get(sid, -self.relay_interval) < self.relay_interval:
            return
        self._relayed_at[sid] = now
        try:
            log = self.client.get_job_logs(sid)
        except (OSError, RuntimeError) as exc:
            self.log.warning("could not read the log of Ray job %s: %s", sid, _short(exc))
            return
        ray_relay.apply_log(run_dir, log, ended)
        if ended:
            self._relayed_at.pop(sid, None)

    @cached_property
    def _relayed_at(self) -> dict[str, float]:
        return {}

    def _explain_end(self, run_dir: Path, info) -> None:
        """The Ray job ended and its runner wrote no result (no python3 on the node, its supervisor or
        node died, stopped before it started): write the result Ray's job info gives, once."""
        (run_dir / SECRETS_FILE).unlink(missing_ok=True)  # a runner that never started left them there
        if (run_dir / protocol.RESULT).exists():
            return
        cancel = layout.read_json(run_dir / protocol.CANCEL) if (run_dir / protocol.CANCEL).exists() else None
        if info.status.value == "STOPPED" and cancel is not None:
            status, error = protocol.Status.CANCELLED, cancel.get("reason") or "cancelled"
        else:
            status = protocol.Status.FAILED
            error = (f"the Ray job ended without the runner's result (Ray job {info.submission_id}: "
                     f"{info.status.value}: {_short(Exception(info.message or ''))}; see `ray job logs "
                     f"{info.submission_id}`)")
        layout.append_system(run_dir, error)
        layout.write_json(run_dir / protocol.RESULT, {"status": status, "exit_code": info.driver_exit_code,
                                                       "error": error, "finished_at": time.time()})

    def signal_cancel(self, handle: dict, run_dir: Path) -> bool:
        """The runner reads cancel.json itself (it polls it), so the job gets the graceful signal once, or
        SIGKILL for a hard cancel: Ray's stop_job would SIGTERM every process of the job. stop_job follows
        only if the job still runs when the grace is over; a job Ray has not started is stopped at once.
        Relayed, the runner sees no cancel.json: stop_job at once sends the spec's graceful signal (SIGINT
        or SIGTERM) to every process of the job, the runner does not repeat it (SIGKILL after the grace)."""
        from ray.job_submission import JobStatus

        run_dir = Path(run_dir)
        sid = handle.get("submission_id") or run_dir.name
        try:
            status = self.client.get_job_info(sid).status
        except RuntimeError as exc:
            if "404" in str(exc):
                return heartbeat_fresh(run_dir)
            return True  # the head does not answer now: the runner still sees cancel.json
        except (OSError, ExecutorError):
            return True
        if status.is_terminal():
            return False
        request = layout.read_json(run_dir / protocol.CANCEL) or {}
        if self.relayed and status != JobStatus.PENDING:
            self._stop(sid)  # the runner cannot see cancel.json: Ray signals the job (RAY_JOB_STOP_SIGNAL)
        elif status == JobStatus.PENDING:
            self._stop(sid)
            (run_dir / SECRETS_FILE).unlink(missing_ok=True)
            if not (run_dir / protocol.RESULT).exists():  # the runner never ran (if it just did, it cancelled)
                layout.write_json(run_dir / protocol.RESULT, {
                    "status": protocol.Status.CANCELLED, "exit_code": None, "finished_at": time.time(),
                    "error": request.get("reason") or "cancelled before the Ray cluster started it"})
        else:  # the runner stops the job (SIGKILL at once, or the signal and SIGKILL after the grace)
            plan = protocol.Plan.from_dict(layout.read_json(run_dir / protocol.PLAN))
            grace = plan.graceful.timeout if request.get("graceful", True) else 0.0
            timer = threading.Timer(grace + _STOP_MARGIN, self._stop_if_running, (sid,))
            timer.daemon = True
            timer.start()
        return True

    def _stop(self, sid: str) -> None:
        try:
            self.client.stop_job(sid)
        except (OSError, RuntimeError) as exc:
            self.log.warning("could not stop Ray job %s: %s", sid, _short(exc))

    def _stop_if_running(self, sid: str) -> None:
        try:
            if not self.client.get_job_info(sid).status.is_terminal():
                self._stop(sid)
        except (OSError, RuntimeError, ExecutorError):
            pass


_ENV_LOCK = threading.Lock()
#: Variables Ray's clients prefer to the address they are given (ray.dashboard.utils).
_ADDRESS_VARIABLES = ("RAY_API_SERVER_ADDRESS", "RAY_ADDRESS")


@contextlib.contextmanager
def _explicit_address():
    """Build a Ray client for the address we give it: Ray's clients take RAY_ADDRESS (or
    RAY_API_SERVER_ADDRESS) from the environment over their argument, so `c.RayExecutor.address`
    would silently lose to a variable the service happens to have."""
    with _ENV_LOCK:
        saved = {name: os.environ.pop(name) for name in _ADDRESS_VARIABLES if name in os.environ}
        try:
            yield
        finally:
            os.environ.update(saved)


def heartbeat_fresh(run_dir: Path) -> bool:
    """Whether the run's runner wrote its heartbeat lately (it rewrites it every HEARTBEAT_INTERVAL s)."""
    try:
        beat = layout.read_json(Path(run_dir) / protocol.HEARTBEAT) or {}
    except (OSError, ValueError):
        return False
    return time.time() - float(beat.get("t", 0)) < 3 * protocol.HEARTBEAT_INTERVAL


def _short(exc: Exception) -> str:
    """The first line of Ray's error (its HTTP errors carry the server's traceback)."""
    text = str(exc).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    last = lines[-1] if "Traceback" in lines[0] and len(lines) > 1 else lines[0]
    return last[:300]
