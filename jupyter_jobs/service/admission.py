"""Admitting a submit: everything checked before anything is stored (executor, instance type,
secrets referenced, executor features, uploaded blobs), then the run recorded as QUEUED."""

from __future__ import annotations

import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import SubmitError
from ..executors import Executor
from ..instances import Catalogue, InstanceType, refuse
from ..runner.protocol import Status
from ..settings import JobsSettings
from ..spec.models import JobSpec
from .blobs import BlobStore
from .db import RunRow
from .index import RunIndex
from .registry import ExecutorRegistry
from .schemas import SubmitRequest
from .secrets import SecretStore

_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def new_run_id() -> str:
    """12 characters, sortable by creation time: 8 of milliseconds, 4 random."""
    ms = int(time.time() * 1000)
    stamp = "".join(_ID_ALPHABET[(ms >> (5 * i)) & 31] for i in reversed(range(8)))
    return stamp + "".join(secrets.choice(_ID_ALPHABET) for _ in range(4))


@dataclass
class Admission:
    settings: JobsSettings
    index: RunIndex
    registry: ExecutorRegistry
    catalogue: Catalogue
    blobs: BlobStore
    secrets: SecretStore
    runs_dir: Path

    def admit(self, request: SubmitRequest, attempt: int = 1, schedule_id: str | None = None,
              notes: list[str] | None = None) -> RunRow:
        """Check the request and record it QUEUED (with `notes` before the executor's); with an
        idempotency key already used, the run that has it (nothing new is recorded)."""
        if request.idempotency_key:
            existing = self.index.by_key(request.idempotency_key)
            if existing:
                return existing
        executor, instance, checked = self.check(request)
        return self._record(request, executor, instance, [*(notes or []), *checked], attempt, schedule_id)

    def check(self, request: SubmitRequest) -> tuple[Executor, InstanceType, list[str]]:
        """Everything `admit` checks, nothing recorded: the executor and instance type it would use
        (a schedule is checked so when it is created)."""
        executor = self.registry.get(request.executor)
        instance, notes = self.choose_instance(request.spec, executor)
        for name in _secret_refs(request.spec):
            if name not in self.secrets.names():
                raise SubmitError(f"`env.docker.password`: secret {name!r} does not exist",
                                  hint=f"create it with `jupyter jobs secrets set {name}`")
        self._check_features(request.spec, executor)
        missing = self.blobs.missing(request.bundle.shas())
        if missing:
            raise SubmitError(f"{len(missing)} input blobs were not uploaded (first: {missing[0][:12]})",
                              hint="upload them before submitting")
        return executor, instance, notes

    def _record(self, request: SubmitRequest, executor: Executor, instance: InstanceType, notes: list[str],
                attempt: int, schedule_id: str | None) -> RunRow:
        run_id = new_run_id()
        run_dir = self.runs_dir / run_id
        run_dir.mkdir(parents=True)
        now = time.time()
        row = RunRow(
            id=run_id, name=request.spec.name, desc=request.spec.desc, kind=request.spec.kind,
            status=Status.QUEUED.value, executor=executor.name, instance_type=instance.name, created_at=now,
            spec=request.spec.model_dump(mode="json"), bundle=request.bundle.model_dump(mode="json"),
            origin=request.origin.model_dump(mode="json"), handle={}, outputs=[], notes=notes,
            parent_id=request.parent_id, idempotency_key=request.idempotency_key,
            owner=request.origin.user, run_dir=str(run_dir), data_deleted=False, attempt=attempt,
            expires_at=now + self.settings.retention_days * 86400, schedule_id=schedule_id,
        )
        try:
            if self.index.add(row):
                return row
        except BaseException:  # e.g. the disk is full: no half-made run folder stays behind
            shutil.rmtree(run_dir, ignore_errors=True)
            raise
        shutil.rmtree(run_dir, ignore_errors=True)  # a concurrent submit with the same key won
        return self.index.by_key(request.idempotency_key)

    def choose_instance(self, spec: JobSpec, executor: Executor) -> tuple[InstanceType, list[str]]:
        """The first of the spec's instance types this executor serves (with notes), else refuse."""
        reasons = {}
        for name in spec.instance_types:
            instance = self.catalogue.get(name, key="cloud-instance-type")
            reason = executor.refusal(instance)
            if reason is None:
                skipped = [f"{n} skipped: {r}" for n, r in reasons.items()]
                return instance, skipped + executor.notes(instance)
            reasons[name] = reason
        servable = [t for t in self.catalogue if executor.refusal(t) is None]
        raise refuse(spec.instance_types, reasons, servable)

    def _check_features(self, spec: JobSpec, executor: Executor) -> None:
        def need(feature: str, what: str, key: str) -> None:
            if feature not in executor.features:
                raise SubmitError(f"`{key}`: {what} needs an executor that supports it; "
                                  f"{executor.name!r} does not",
                                  hint=f"executors here: {', '.join(self.registry.names())}")

        if spec.env.docker:
            need("docker", f"the image {spec.env.docker.image!r}", "env.docker")
        if spec.spark:
            need("spark", "a Spark connector", "spark")
        for key, refs, table in (("datasets", spec.datasets, self.settings.datasets),
                                 ("s3-mounts", spec.s3_mounts, self.settings.s3_mounts)):
            for ref in refs:
                if ref.id not in table:
                    raise SubmitError(f"`{key}`: {ref.id!r} is not available here",
                                      hint=f"an operator maps it to a folder with "
                                           f"c.JobsSettings.{key.replace('-', '_')}")


def retry_request(row: RunRow) -> SubmitRequest | None:
    """The submit that runs a failed run again while its spec allows; its key makes that happen once."""
    spec = JobSpec.model_validate(row.spec)
    if row.attempt > spec.retries:
        return None
    return SubmitRequest(spec=spec, bundle=row.bundle, origin=row.origin, executor=row.executor,
                         parent_id=row.id, idempotency_key=f"retry:{row.id}")


def _secret_refs(spec: JobSpec) -> list[str]:
    docker = spec.env.docker
    return [docker.password_secret] if docker and docker.password_secret else []
