"""Starting a claimed run's runner, and asking a live one to cancel.

A run never starts twice. Its claim (`claimed_by`, with a token) is held by one process; before the
executor can create a runner, that process swaps the token for a new one marked `starting`, durably
in the index, and only if it still holds the claim. Once a start was attempted, a claimer found dead
makes the run LOST, never QUEUED again (`transitions._undo_claim`), and the handle is stored only
under the claim that started it. The claim's lease is renewed meanwhile (`claims.ClaimKeeper`), so
servers on other hosts leave it alone while this process lives.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import JobsError
from ..executors import Executor, Launch
from ..runner import layout, protocol
from ..runner.protocol import OnExit, Status
from .blobs import BlobStore
from .claims import ClaimKeeper, new_claim
from .db import RunRow
from .index import RunIndex
from .plan import build_plan
from .schemas import SubmitRequest
from .secrets import SecretStore
from .transitions import Transition

log = logging.getLogger(__name__)


class Launcher:
    def __init__(self, settings, index: RunIndex, blobs: BlobStore, secret_store: SecretStore, queue_dir: Path,
                 embedded: bool):
        self.settings = settings
        self.index = index
        self.blobs = blobs
        self.secrets = secret_store
        self.queue_dir = queue_dir
        self.embedded = embedded
        self.claims = ClaimKeeper(index, settings.claim_lease_seconds)
        #: A server starts runs in worker threads; the embedded mode inline.
        self._pool = None if embedded else ThreadPoolExecutor(max_workers=4, thread_name_prefix="jobs-launch")

    def close(self) -> None:
        """Starts already claimed still finish (the process waits for them at exit)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    def launch(self, row: RunRow, executor: Executor, resources: dict) -> None:
        """Start a claimed run. A server starts each in a worker thread, so one slow start (an image
        pull) does not hold up the others; the embedded mode starts it before the command returns. Its
        claim's lease is renewed from now (a start waiting for a worker too) until the handle is stored."""
        self.claims.hold(row.id, row.claimed_by)
        if self._pool is None:
            self._launch_or_fail(row, executor, resources)
        else:
            self._pool.submit(self._launch_or_fail, row, executor, resources)

    def _launch_or_fail(self, row: RunRow, executor: Executor, resources: dict) -> None:
        try:
            self._launch(row, executor, resources)
        except Exception as exc:  # a bug, not a refusal: the run says so rather than staying PREPARING
            log.exception("starting run %s failed", row.id)
            self._fail(row, f"could not start the run: {exc}")
        finally:
            self.claims.release(row.id)

    def _launch(self, row: RunRow, executor: Executor, resources: dict) -> None:
        """Write the plan, let the executor prepare (no runner yet), mark the start attempted under the
        claim, start the runner, store its handle under the same claim."""
        run_dir = Path(row.run_dir)
        request = SubmitRequest(spec=row.spec, bundle=row.bundle, origin=row.origin)
        plan = build_plan(row.id, request, run_dir, self.blobs, self.settings, executor)
        plan.notes = list(row.notes) + plan.notes
        # The executor says how a job sees its GPU slots (a container renumbers them from 0).
        plan.env.update(executor.gpu_env(list(resources.get("gpus", []))))
        secret_values = self.secrets.values()
        plan.secret_names = sorted(secret_values)
        # Only a runner on this machine can start the host's queue kick (not one in a container).
        if self.embedded and executor.shares_host:
            plan.on_exit = OnExit(queue_dir=str(self.queue_dir), argv=self.kick_argv())
        layout.write_json(run_dir / protocol.PLAN, plan.to_dict())
        # What the executor needs beyond the plan: reserved resources, the image and its registry
        # login (the password resolved here from the secrets, passed in memory, never written).
        docker = request.spec.env.docker
        launch = Launch(run_id=row.id, instance=row.instance_type, resources=dict(resources),
                        image=docker.image if docker else None,
                        registry_auth={"username": docker.username or "",
                                       "password": secret_values.get(docker.password_secret, "")}
                        if docker and docker.password_secret else None)
        try:
            executor.prepare(run_dir, launch)
            if not self._mark_starting(row):
                log.warning("run %s: its claim was taken over before it started; not starting it", row.id)
                return
            handle = executor.start(run_dir, secret_values, launch)
        except JobsError as exc:
            self._fail(row, str(exc))
            return
        if not self.claims.change(row.id, None, {"handle": handle, "claimed_by": None}):
            log.warning("run %s: its claim was taken over while it started; handle %s not stored", row.id, handle)
            return
        row.handle, row.claimed_by = handle, None
        if self.embedded and not executor.shares_host:
            # A runner in a container cannot start the host's queue kick: a host process waits for it.
            subprocess.Popen([*self.kick_argv(), "--after", row.id], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def _mark_starting(self, row: RunRow) -> bool:
        """From here a runner may exist: a new token marked `starting`, set only while the claim is ours."""
        starting = {**new_claim(row.claimed_by, self.settings.claim_lease_seconds), "starting": True}
        if not self.claims.change(row.id, Status.PREPARING.value, {"claimed_by": starting}):
            return False
        row.claimed_by = starting
        return True

    def _fail(self, row: RunRow, error: str) -> None:
        """The start failed: FAILED, if the run is still this process's claim (not once its handle is stored)."""
        self.claims.change(row.id, Status.PREPARING.value, {"status": Status.FAILED.value, "error": error,
                                                            "finished_at": time.time(), "claimed_by": None})

    def cancel(self, row: RunRow, executor: Executor | None, graceful: bool, reason: str | None) -> None:
        """cancel.json first (the runner reads it), then a signal; a run with no runner yet that is still
        QUEUED is CANCELLED here (one claimed meanwhile reads cancel.json when its runner starts)."""
        run_dir = Path(row.run_dir)
        layout.write_json(run_dir / protocol.CANCEL, {"graceful": graceful, "reason": reason,
                                                      "requested_at": time.time()})
        if executor is None or not executor.signal_cancel(row.handle or {}, run_dir):
            self.index.apply(Transition(row.id, Status.QUEUED.value, {
                "status": Status.CANCELLED.value, "finished_at": time.time(), "error": reason or "cancelled"}))

    def kick_argv(self) -> list[str]:
        """`python -m jupyter_jobs.service.kick` with this service's settings (embedded mode only), and
        their config, which holds the executors' own options (`c.RayExecutor.address`, ...)."""
        return [sys.executable, "-m", "jupyter_jobs.service.kick",
                json.dumps({**self.settings.trait_values(config=True), "config": self.settings.config}, default=str)]
