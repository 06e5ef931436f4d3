"""Write a JobSpec back as a DataSphere-style config.yaml (what `parse_config` reads)."""

from __future__ import annotations

import yaml

from .models import JobSpec
from .units import format_duration


def _refs(refs, key: str = "path") -> list:
    return [getattr(r, key) if not r.var else {getattr(r, key): {"var": r.var}} for r in refs]


def spec_to_config(spec: JobSpec) -> dict:
    """The config mapping, keys in the reference's order, defaults left out."""
    out: dict = {}
    if spec.name:
        out["name"] = spec.name
    if spec.desc:
        out["desc"] = spec.desc
    out["cmd"] = spec.cmd
    if spec.args:
        out["args"] = dict(spec.args)
    if spec.inputs:
        out["inputs"] = _refs(spec.inputs)
    if spec.outputs:
        out["outputs"] = _refs(spec.outputs)
    if spec.s3_mounts:
        out["s3-mounts"] = _refs(spec.s3_mounts, "id")
    if spec.datasets:
        out["datasets"] = _refs(spec.datasets, "id")
    env: dict = {}
    if spec.env.vars:
        env["vars"] = [{k: v} for k, v in spec.env.vars.items()]
    if spec.env.docker:
        d = spec.env.docker
        if d.username or d.password_secret:
            env["docker"] = {"image": d.image}
            if d.username:
                env["docker"]["username"] = d.username
            if d.password_secret:
                env["docker"]["password"] = {"secret-id": d.password_secret}
        else:
            env["docker"] = d.image
    if spec.env.python:
        env["python"] = _python(spec.env.python)
    if env:
        out["env"] = env
    if spec.flags:
        out["flags"] = list(spec.flags)
    if spec.instance_types != ["c1.4"]:
        types = spec.instance_types
        out.update({"cloud-instance-type": types[0]} if len(types) == 1 else {"cloud-instance-types": types})
    if spec.working_storage:
        out["working-storage"] = {"type": "SSD", "size": f"{spec.working_storage.size_gb}Gb"}
    gs = spec.graceful_shutdown
    if gs.signal != "SIGTERM" or gs.timeout_s != 10.0:
        out["graceful-shutdown"] = {"signal": gs.signal, "timeout": format_duration(gs.timeout_s)}
    if spec.output_datasets:
        out["output-datasets"] = [_dataset(ds) for ds in spec.output_datasets]
    if spec.spark:
        out["spark"] = {"connector": spec.spark.connector}
    if spec.timeout_s:
        out["timeout"] = format_duration(spec.timeout_s)
    if spec.retries:
        out["retries"] = spec.retries
    return out


def _python(py) -> dict | str:
    body: dict = {"type": py.type}
    if py.version:
        body["version"] = py.version
    if py.requirements_file:
        body["requirements-file"] = py.requirements_file
    if py.local_paths is not None:
        body["local-paths"] = list(py.local_paths)
    if py.root_paths:
        body["root-paths"] = list(py.root_paths)
    pip = {k.replace("_", "-"): v for k, v in py.pip.model_dump().items() if v}
    if pip:
        body["pip"] = pip
    return "auto" if body == {"type": "auto"} else body


def _dataset(ds) -> dict:
    body = {"name": ds.name, "var": ds.var}
    if ds.description:
        body["description"] = ds.description
    if ds.size_gb:
        body["size"] = f"{ds.size_gb}Gb"
    if ds.labels:
        body["labels"] = dict(ds.labels)
    return body


class _Dumper(yaml.SafeDumper):
    """Multi-line commands as `|` blocks, so the written file reads like a hand-written one."""


def _str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(spec: JobSpec) -> str:
    return yaml.dump(spec_to_config(spec), Dumper=_Dumper, sort_keys=False, allow_unicode=True)
