"""The instance catalogue: names users type (`g2.1`, `VM.GPU3.1`) and what each asks of an executor."""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError

from .errors import ConfigError, SubmitError

try:  # libyaml's loader: the catalogue is read on every CLI call
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


class InstanceType(BaseModel):
    name: str
    family: str = "custom"
    cpus: float = Field(gt=0)
    memory_gb: float = Field(gt=0)
    gpus: float = Field(default=0, ge=0)
    gpu_kind: str | None = None
    vram_gb: float | None = None
    flexible: bool = False

    @property
    def whole_gpus(self) -> int:
        """GPUs to reserve: a MIG slice still needs a physical GPU on executors without MIG."""
        return math.ceil(self.gpus)

    def summary(self) -> str:
        gpu = f", {self.gpus:g}x {self.gpu_kind or 'GPU'}" if self.gpus else ""
        return f"{self.cpus:g} vCPU, {self.memory_gb:g} GB{gpu}"


class Catalogue:
    """Ordered name -> InstanceType; the packaged file, replaced or extended by the operator's."""

    def __init__(self, types: dict[str, InstanceType]):
        self.types = types

    @classmethod
    def load(cls, override: str | Path | None = None) -> Catalogue:
        text = resources.files("jupyter_jobs").joinpath("data/instance_types.yaml").read_text()
        types = _parse(yaml.load(text, Loader=_Loader), "built-in catalogue")
        if override:
            path = Path(override)
            try:
                data = yaml.load(path.read_text(), Loader=_Loader)
            except (OSError, yaml.YAMLError) as exc:
                raise ConfigError(f"cannot read instance types file: {exc}", source=str(path)) from None
            types.update(_parse(data, str(path)))
        return cls(types)

    def __iter__(self):
        return iter(self.types.values())

    def get(self, name: str, key: str = "cloud-instance-type", line: int | None = None) -> InstanceType:
        try:
            return self.types[name]
        except KeyError:
            import difflib

            close = difflib.get_close_matches(name, list(self.types), n=3, cutoff=0.5)
            hint = f"did you mean {' or '.join(close)}?" if close else "see `jupyter jobs instance-types`"
            raise ConfigError(f"unknown instance type {name!r}", key=key, line=line, hint=hint) from None


def _parse(data, source: str) -> dict[str, InstanceType]:
    """Either {family: {name: fields}} or {name: fields}."""
    if not isinstance(data, dict):
        raise ConfigError("an instance types file is a mapping of families or names", source=source)
    out: dict[str, InstanceType] = {}
    for family, entries in data.items():
        if isinstance(entries, dict) and "cpus" not in entries:
            items = [(name, {**fields, "family": family}) for name, fields in entries.items()]
        else:
            items = [(family, entries)]
        for name, fields in items:
            try:
                out[str(name)] = InstanceType(name=str(name), **(fields or {}))
            except (TypeError, ValidationError) as exc:
                raise ConfigError(f"instance type {name}: {exc}", source=source) from None
    return out


def refuse(wanted: list[str], reasons: dict[str, str], servable: list[InstanceType]) -> SubmitError:
    """The message for a spec none of whose instance types can run here."""
    why = "; ".join(f"{name}: {reasons[name]}" for name in wanted)
    names = ", ".join(t.name for t in servable[:12]) + (", ..." if len(servable) > 12 else "")
    return SubmitError(f"no executor here can run {' / '.join(wanted)} ({why})",
                       hint=f"instance types that run here: {names}")
