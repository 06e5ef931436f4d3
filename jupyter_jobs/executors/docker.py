"""The Docker executor: each run's runner in its own container, started with the `docker` SDK.

What a container sees (everything else stays on the host):

    /jobs/run                the run directory (read-write): plan.json in, events, logs, outputs out
    /jobs/blobs              the blob store (read-only): the runner copies inputs from here
    /jobs/pkg/jupyter_jobs   this package (read-only): the runner is standard library only
    /jobs/envs               a named volume per image: Python environments built with the image's python
    /jobs/bin/uv             the `uv` binary (read-only), for `env.python` jobs
    /jobs/ca-certificates.crt  the host's CA bundle (read-only), when the network is not "none"

The runner runs with the image's own `python3` (`python3 -m jupyter_jobs.runner /jobs/run`, its own
output appended to runner.out), under an init process so a cancel signal reaches it. Containers carry
the label `jupyter-jobs.run-id`, so a restarted service finds them again; they are removed when they
end (`keep_failed` keeps those whose run did not succeed).
"""

from __future__ import annotations

import hashlib
import os
import sys
from functools import cached_property
from pathlib import Path

from traitlets import Bool, Float, List, Unicode, default
from traitlets.config import LoggingConfigurable

from ..errors import ExecutorError
from ..instances import InstanceType
from ..runner import layout, protocol
from .base import Executor, ExecutorMeta, Launch, Liveness, gpu_count, gpu_shortage, oversize_note

RUN = "/jobs/run"
BLOBS = "/jobs/blobs"
PKG = "/jobs/pkg"
ENVS = "/jobs/envs"
UV = "/jobs/bin/uv"
CA = "/jobs/ca-certificates.crt"
MOUNTS = "/jobs/mnt"
LABEL = "jupyter-jobs.run-id"
#: This package, read-only at PKG/jupyter_jobs: the runner and the env cache code are standard library only.
PACKAGE_MOUNT = {str(Path(__file__).resolve().parent.parent): {"bind": f"{PKG}/jupyter_jobs", "mode": "ro"}}
GB = 10**9  # instance types give memory in GB, as the vendors publish it

#: Started as `python3 -c BOOTSTRAP`: the runner's own output goes to runner.out in the run dir (the
#: container may be gone before anyone reads its logs), the package comes from the read-only mount
#: without PYTHONPATH leaking into the job, and a runner that cannot even start (a Python too old
#: for it) still leaves a result saying why.
BOOTSTRAP = f"""\
import os, sys
fd = os.open({RUN + "/runner.out"!r}, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
os.dup2(fd, 1); os.dup2(fd, 2)
sys.path.insert(0, {PKG!r})
sys.argv = ["python3 -m jupyter_jobs.runner", {RUN!r}]
try:
    import runpy
    runpy.run_module("jupyter_jobs.runner", run_name="__main__", alter_sys=True)
except SystemExit:
    raise
except BaseException as exc:
    import json, traceback
    traceback.print_exc()
    if not os.path.exists({RUN + "/result.json"!r}):
        with open({RUN + "/result.json"!r}, "w") as fh:
            json.dump({{"status": "FAILED", "exit_code": None, "outputs": [],
                       "error": "the runner could not run with this image's python3 "
                                "(" + sys.version.split()[0] + "): " + repr(exc)}}, fh)
    sys.exit(1)
"""


class DockerExecutor(LoggingConfigurable, Executor, metaclass=ExecutorMeta):
    """Runs each job in a container on a Docker Engine (`c.DockerExecutor.*` options)."""

    name = "docker"
    features = frozenset({"docker", "python-env", "gpus"})
    shares_host = False

    base_url = Unicode("", help="Docker Engine address (unix:///..., tcp://...); default: $DOCKER_HOST or "
                                "the local socket.").tag(config=True)
    default_image = Unicode("python:3.11-slim", help="Image for jobs whose spec names none (env.docker). "
                                                     "It needs python3 (3.10 or newer) on its PATH.").tag(config=True)
    network = Unicode("none", help='Network of job containers: "none" (no network, the default), "host", or '
                                   "the name of a Docker network. With \"none\", env.python jobs can only use "
                                   "environments already cached for their image.").tag(config=True)
    gpus = List(Unicode(), help="GPU ids of the Docker host the scheduler hands out (device_requests "
                                "device_ids); the host needs the NVIDIA container runtime. Default: none.").tag(
        config=True)
    cpus = Float(0, help="CPUs the executor hands out; 0 = what the Docker host reports.").tag(config=True)
    memory_gb = Float(0, help="Memory (GB) the executor hands out; 0 = what the Docker host reports.").tag(
        config=True)
    keep_failed = Bool(False, help="Keep the containers of runs that did not succeed (for `docker logs` / "
                                   "`docker inspect`); others are removed when they end.").tag(config=True)
    user = Unicode("", help="User (uid[:gid]) jobs run as; default: the image's user. It must be able to "
                            "write the run dir and the env volume.").tag(config=True)
    ca_bundle = Unicode(help="CA bundle mounted into containers that have a network; default: $SSL_CERT_FILE "
                             "or /etc/ssl/certs/ca-certificates.crt.").tag(config=True)
    uv_binary = Unicode(help="The `uv` binary mounted for env.python jobs; default: the one of the "
                             "`uv` package.").tag(config=True)

    # -- configuration ------------------------------------------------------------------------------
    @default("ca_bundle")
    def _ca_bundle(self):
        for path in (os.environ.get("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt"):
            if path and os.path.isfile(path):
                return path
        return ""

    @default("uv_binary")
    def _uv_binary(self):
        """A real executable, not a shell shim (pyenv puts those on PATH): it must run in the image."""
        candidates = [os.environ.get("JUPYTER_JOBS_UV")]
        try:
            import uv

            candidates.append(uv.find_uv_bin())
        except (ImportError, FileNotFoundError):
            pass
        candidates.append(os.path.join(sys.prefix, "bin", "uv"))
        for path in candidates:
            if path and os.access(path, os.X_OK) and _is_elf(path):
                return os.path.realpath(path)
        return ""

    @default("cpus")
    def _cpus(self):
        return float(self._info.get("NCPU") or os.cpu_count() or 1)

    @default("memory_gb")
    def _memory_gb(self):
        return (self._info.get("MemTotal") or 0) / 1e9

    @cached_property
    def client(self):
        try:
            import docker
        except ImportError:
            raise ExecutorError("the docker executor needs the `docker` package",
                                hint="pip install 'jupyter-jobs[docker]'") from None
        try:
            client = docker.DockerClient(base_url=self.base_url) if self.base_url else docker.from_env()
            client.ping()
        except docker.errors.DockerException as exc:
            where = self.base_url or os.environ.get("DOCKER_HOST") or "the local socket"
            raise ExecutorError(f"cannot reach the Docker Engine at {where}: {_short(exc)}",
                                hint="start it (scripts/docker-engine.sh start) and set DOCKER_HOST "
                                     "or c.DockerExecutor.base_url") from None
        return client

    @cached_property
    def _info(self) -> dict:
        return self.client.info()

    @property
    def _data_dir(self) -> Path:
        return Path(self.parent.data_dir) if self.parent is not None else Path(os.environ["JUPYTER_JOBS_DATA_DIR"])

    # -- the Executor interface ---------------------------------------------------------------------
    def map_path(self, path: Path) -> str:
        """Host paths of the run dir, blobs, env cache and uv as the runner in the container sees them."""
        path = Path(path)
        data = self._data_dir
        for host, inside in ((data / "blobs", BLOBS), (data / "envs", ENVS)):
            if path == host or host in path.parents:
                return str(Path(inside, path.relative_to(host)))
        runs = data / "runs"
        if runs in path.parents:  # runs/<id>/rest -> /jobs/run/rest (each container mounts only its own)
            rel = path.relative_to(runs)
            return str(Path(RUN, *rel.parts[1:]))
        if path.name == "uv" and not path.is_relative_to(data):
            return UV
        return str(path)

    enforces_read_only = True

    def folder_path(self, host: str, name: str) -> str:
        return f"{MOUNTS}/{name}"

    def refusal(self, instance: InstanceType) -> str | None:
        if instance.whole_gpus > len(self.gpus):
            return gpu_shortage(instance, len(self.gpus), "this Docker host offers") + " (c.DockerExecutor.gpus)"
        return None

    def notes(self, instance: InstanceType) -> list[str]:
        return oversize_note(instance, self.cpus, self.memory_gb, "this Docker host",
                             "so the container is limited to that")

    def gpu_env(self, gpus: list[str]) -> dict[str, str]:
        return {}  # the NVIDIA runtime shows a container only its devices, numbered from 0

    def env_build_hint(self) -> str | None:
        if self.network == "none":
            return ('the job container has no network (c.DockerExecutor.network = "none"), so packages '
                    'cannot be downloaded from an index; an operator can set c.DockerExecutor.network to '
                    '"host" or a Docker network, or use an image that already has them')
        return f"the job container uses the Docker network {self.network!r} (c.DockerExecutor.network)"

    def prepare(self, run_dir: Path, launch: Launch) -> None:
        """Pull the image when the host lacks it (`start` then finds it present)."""
        self._image(launch.image or self.default_image, launch.registry_auth,
                    say=lambda text: layout.append_system(Path(run_dir), text))

    def start(self, run_dir: Path, env: dict[str, str], launch: Launch | None = None) -> dict:
        import docker

        run_dir = Path(run_dir)
        launch = launch or Launch(run_id=run_dir.name, instance="?")
        plan = protocol.Plan.from_dict(layout.read_json(run_dir / protocol.PLAN))
        self._sweep()
        image = self._image(launch.image or self.default_image, launch.registry_auth,
                            say=lambda text: layout.append_system(run_dir, text))
        volumes = {
            str(run_dir.resolve()): {"bind": RUN, "mode": "rw"},
            str((self._data_dir / "blobs").resolve()): {"bind": BLOBS, "mode": "ro"},
            **PACKAGE_MOUNT,
        }
        (self._data_dir / "blobs").mkdir(parents=True, exist_ok=True)
        environment = dict(env)
        if plan.python:
            if not self.uv_binary:
                raise ExecutorError("env.python jobs in containers need the `uv` binary on the server",
                                    hint="pip install uv, or set c.DockerExecutor.uv_binary")
            volumes[self.uv_binary] = {"bind": UV, "mode": "ro"}
            volumes[self._env_volume(image)] = {"bind": ENVS, "mode": "rw"}
            environment["UV_CACHE_DIR"] = f"{ENVS}/.uv-cache"  # same volume: hard links, and kept
            if self.network == "none":
                environment["UV_OFFLINE"] = "1"  # fail at once, not after DNS retries
        for mount in plan.mounts:
            volumes[str(Path(mount.host).resolve())] = {"bind": mount.inside, "mode": mount.mode}
        if self.network != "none" and self.ca_bundle:
            volumes[self.ca_bundle] = {"bind": CA, "mode": "ro"}
            for name in ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"):
                environment[name] = CA
        resources = launch.resources or {}
        kwargs: dict = {}
        if resources.get("cpus"):
            kwargs["nano_cpus"] = int(resources["cpus"] * 1e9)
        if resources.get("memory_gb"):
            kwargs["mem_limit"] = kwargs["memswap_limit"] = int(resources["memory_gb"] * GB)
        gpus = list(resources.get("gpus") or [])
        if gpus:
            kwargs["device_requests"] = [docker.types.DeviceRequest(device_ids=gpus, capabilities=[["gpu"]])]
        if self.network in ("none", "host"):
            kwargs["network_mode"] = self.network
        else:
            kwargs["network"] = self.network
        if self.user:
            kwargs["user"] = self.user
        labels = {LABEL: launch.run_id, "jupyter-jobs.run-dir": str(run_dir.resolve()),
                  "jupyter-jobs.instance": launch.instance, "jupyter-jobs.image": _name(image)}
        try:
            container = self.client.containers.create(
                image.id, ["python3", "-c", BOOTSTRAP], name=f"jupyter-jobs-{launch.run_id}",
                labels=labels, environment=environment, volumes=volumes, working_dir=RUN, init=True,
                auto_remove=not self.keep_failed, detach=True, stdin_open=False, tty=False, **kwargs)
        except docker.errors.APIError as exc:
            raise ExecutorError(f"could not create the job's container from {image.tags[:1] or image.id}: "
                                f"{_short(exc)}") from None
        try:
            container.start()
        except docker.errors.APIError as exc:
            _remove(container)
            text = _short(exc)
            if gpus and "could not select device driver" in text:
                raise ExecutorError(f"instance {launch.instance} needs {gpu_count(len(gpus))}; this "
                                    f"Docker host has no GPU runtime",
                                    hint="install the NVIDIA container toolkit there, or remove the ids from "
                                         "c.DockerExecutor.gpus") from None
            if "executable file not found" in text or "no such file or directory" in text:
                raise ExecutorError(f"image {_name(image)!r} has no python3 on its PATH; the runner needs "
                                    f"Python 3.10 or newer in the image") from None
            raise ExecutorError(f"the job's container did not start: {text}") from None
        return {"container": container.id, "name": container.name, "image": _name(image)}

    def liveness(self, handle: dict, run_dir: Path) -> Liveness:
        import docker

        try:
            container = self._container(handle, run_dir)
        except (docker.errors.DockerException, ExecutorError):
            return Liveness.UNKNOWN  # the engine is unreachable: unknown is not dead
        if container is None:
            return Liveness.GONE
        if container.status in ("created", "running", "restarting", "paused"):
            return Liveness.ALIVE
        self._sweep()
        return Liveness.GONE

    def signal_cancel(self, handle: dict, run_dir: Path) -> bool:
        """SIGTERM to the container's init, which passes it to the runner; it reads cancel.json."""
        import docker

        try:
            container = self._container(handle, run_dir)
            if container is None or container.status != "running":
                return False
            container.kill(signal="SIGTERM")
        except docker.errors.NotFound:
            return False
        except docker.errors.APIError as exc:
            if "is not running" in str(exc):
                return False
            raise ExecutorError(f"could not signal the job's container: {_short(exc)}") from None
        return True

    # -- helpers --------------------------------------------------------------------------------------
    def _image(self, name: str, auth: dict | None, say=lambda text: None):
        """The image as present on the host, else pulled (with the registry login when given), saying
        how the pull goes (layers, bytes) so a long first pull is not a silent PREPARING."""
        import docker

        from .pull import PullFailed, follow_pull

        try:
            return self.client.images.get(name)
        except docker.errors.ImageNotFound:
            pass
        except docker.errors.APIError as exc:
            raise ExecutorError(f"image {name!r}: {_short(exc)}") from None
        repo, tag = _split(name)
        self.log.info("pulling %s", name)  # never the login
        try:
            follow_pull(name, self.client.api.pull(repo, tag=tag, stream=True, decode=True,
                                                   auth_config=auth or None), say)
            return self.client.images.get(name)
        except (docker.errors.DockerException, PullFailed) as exc:
            message = _short(exc) if isinstance(exc, docker.errors.DockerException) else str(exc)
            raise ExecutorError(f"image {name!r} is not on this Docker host and could not be pulled: "
                                f"{message}", hint="check the name, or load it there (docker load / "
                                                   "docker import)") from None

    def _env_volume(self, image) -> str:
        """One named volume of built environments per image (its Python decides what a venv holds) and
        per data dir (like the host's env cache, so two services on one Docker host stay apart)."""
        data_dir = str(self._data_dir.resolve())
        digest = hashlib.sha256(f"{image.id}\0{data_dir}".encode()).hexdigest()[:16]
        name = f"jupyter-jobs-envs-{digest}"
        # Creating an existing volume returns it unchanged, so concurrent starts are fine.
        self.client.volumes.create(name, labels={"jupyter-jobs.image": _name(image),
                                                 "jupyter-jobs.data-dir": data_dir})
        return name

    def env_volumes(self) -> list[tuple[str, str]]:
        """(volume, image) of this data dir's environment volumes, one per image."""
        data_dir = str(self._data_dir.resolve())
        volumes = self.client.volumes.list(filters={"label": f"jupyter-jobs.data-dir={data_dir}"})
        return sorted((v.name, v.attrs.get("Labels", {}).get("jupyter-jobs.image", "?")) for v in volumes)

    def env_cache(self, volume: str, image: str, *argv: str) -> str:
        """`python -m jupyter_jobs.pyenv.cache ARGV` over an env volume, in a short container of the image
        the volume serves (its venvs are for that image's Python; the host may not read the volume)."""
        import docker

        try:
            out = self.client.containers.run(
                image, ["python3", "-c", f"import sys, runpy; sys.path.insert(0, {PKG!r}); "
                                         f"sys.argv = ['cache', '--root', {ENVS!r}, *{list(argv)!r}]; "
                                         "runpy.run_module('jupyter_jobs.pyenv.cache', run_name='__main__')"],
                volumes={volume: {"bind": ENVS, "mode": "rw" if argv[:1] == ("prune",) else "ro"},
                         **PACKAGE_MOUNT},
                network_mode="none", user=self.user or None, remove=True, stdout=True, stderr=True,
                labels={"jupyter-jobs.env-volume": volume})
        except docker.errors.DockerException as exc:
            raise ExecutorError(f"environment volume {volume}: {_short(exc)}") from None
        return out.decode("utf-8", "replace")

    def _container(self, handle: dict, run_dir: Path):
        """The run's container by id, else by its run-id label; None when it is gone."""
        import docker

        cid = handle.get("container")
        if cid:
            try:
                return self.client.containers.get(cid)
            except docker.errors.NotFound:
                return None
        # ignore_removed: a container the engine removes (auto_remove) between listing and inspecting is gone.
        found = self.client.containers.list(all=True, ignore_removed=True,
                                            filters={"label": f"{LABEL}={Path(run_dir).name}"})
        return found[0] if found else None

    def _sweep(self) -> None:
        """Remove ended containers kept for `keep_failed` whose run in fact succeeded."""
        if not self.keep_failed:
            return  # auto_remove: the engine removes them
        import docker

        try:
            ended = self.client.containers.list(all=True, ignore_removed=True,
                                                filters={"label": LABEL, "status": "exited"})
        except docker.errors.DockerException:
            return
        for container in ended:
            try:  # the job could write this file: read it as untrusted
                result = layout.read_json(Path(container.labels.get("jupyter-jobs.run-dir", "/nonexistent"))
                                          / protocol.RESULT)
            except (OSError, ValueError):
                continue
            if isinstance(result, dict) and result.get("status") == "SUCCEEDED":
                _remove(container)


def _remove(container) -> None:
    try:
        container.remove(force=True)
    except Exception:  # noqa: BLE001 - already gone, or being removed by auto_remove
        pass


def _split(name: str) -> tuple[str, str]:
    """`repo[:tag]` or `repo@digest` -> (repo, tag or digest); a port's colon is not a tag."""
    if "@" in name:
        repo, digest = name.split("@", 1)
        return repo, digest
    repo, _, tag = name.rpartition(":")
    if not repo or "/" in tag:
        return name, "latest"
    return repo, tag


def _name(image) -> str:
    return image.tags[0] if image.tags else image.id


def _short(exc: Exception) -> str:
    """The engine's explanation without the SDK's request URL."""
    text = getattr(exc, "explanation", None) or str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(str(text).split())


def _is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False
