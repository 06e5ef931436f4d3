"""Operator settings, as traitlets so the same `c.JobsSettings.x = ...` works in the server and the CLI."""

from __future__ import annotations

import os
from pathlib import Path

from traitlets import Bool, Dict, Float, Int, List, TraitError, Unicode, default, validate
from traitlets.config import Config, Configurable

GiB = 1 << 30


class JobsSettings(Configurable):
    """Where jobs keep their data and what the local machine offers them."""

    data_dir = Unicode(help="Folder for the run database, blobs, run directories and environments. "
                            "Default: $JUPYTER_JOBS_DATA_DIR or <jupyter data dir>/jobs.").tag(config=True)
    db_url = Unicode(help="SQLAlchemy URL of the run index. Default: a SQLite file in data_dir.").tag(config=True)
    executors = List(Unicode(), default_value=["local"],
                     help="Executors to enable, the first is the default: local, docker, ray. Others are "
                          "created when a job names them with --executor.").tag(config=True)
    retention_days = Float(14.0, help="Days a run's logs and outputs are kept (set-data-ttl overrides).").tag(
        config=True)
    instance_types_file = Unicode("", help="YAML file replacing or adding instance types.").tag(config=True)
    project_dir = Unicode("", help="Root of ${DS_PROJECT_HOME} (attach-project-disk). Default: the Jupyter "
                                   "server's root dir, or the config file's folder standalone.").tag(config=True)
    datasets = Dict(Unicode(), help="Dataset id -> local folder, for configs that list `datasets`.").tag(
        config=True)
    s3_mounts = Dict(Unicode(), help="S3 connector id -> local folder, for `s3-mounts`.").tag(config=True)
    local_gpus = List(Unicode(), allow_none=True, default_value=None,
                      help="GPU ids of this machine; default: detected with `nvidia-smi -L`.").tag(config=True)
    local_cpus = Float(0, help="CPUs the local executor hands out; 0 = this machine's count.").tag(config=True)
    local_memory_gb = Float(0, help="Memory the local executor hands out; 0 = this machine's.").tag(config=True)
    max_concurrent = Int(0, help="Runs started at once over all executors; 0 = capacity alone decides.").tag(
        config=True)
    max_per_instance_type = Dict(Int(), help="Instance type -> most runs of that type at once.").tag(config=True)
    max_per_user = Int(0, help="Most runs one user has started at once; 0 = no limit.").tag(config=True)
    max_file_size = Int(5 * GiB, help="Largest input file accepted.").tag(config=True)
    max_upload_size = Int(10 * GiB, help="Largest total of input files of one job.").tag(config=True)
    max_download_size = Int(1 * GiB, help="Outputs the CLI copies back per job (smallest first).").tag(
        config=True)
    env_cache_max_gb = Float(20.0, help="Size the cached Python environments may reach before the least "
                                        "recently used are evicted; 0 = no limit.").tag(config=True)
    claim_lease_seconds = Float(60.0, help="How long a server's claim on a run it is starting holds without "
                                           "renewal (renewed every third of it): a server sharing the index on "
                                           "another host that dies mid-start has its run queued again (or LOST, "
                                           "once a start was attempted) after this long.").tag(config=True)
    schedule_poll_seconds = Float(15.0, help="Seconds between a server's looks for schedules that are due.").tag(
        config=True)
    schedule_grace_seconds = Float(300.0, help="A schedule's tick fired later than this after its time was "
                                               "missed (no server ran then): the schedule's `missed` policy "
                                               "decides whether it still runs.").tag(config=True)
    keep_workdir = Bool(False, help="Keep a run's work dir after it ends (debugging).").tag(config=True)

    @validate("claim_lease_seconds", "schedule_poll_seconds")
    def _positive(self, proposal):
        if proposal["value"] <= 0:
            raise TraitError(f"c.JobsSettings.{proposal['trait'].name}: must be more than 0, not {proposal['value']}")
        return proposal["value"]

    @default("data_dir")
    def _data_dir(self):
        env = os.environ.get("JUPYTER_JOBS_DATA_DIR")
        if env:
            return env
        from jupyter_core.paths import jupyter_data_dir

        return str(Path(jupyter_data_dir()) / "jobs")

    @default("db_url")
    def _db_url(self):
        return "sqlite:///" + str(Path(self.data_dir) / "jobs.db")


def load_settings(**overrides) -> JobsSettings:
    """Settings for the CLI and magics: `jupyter_jobs_config.{json,py}` from Jupyter's config path."""
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config.loader import JSONFileConfigLoader, PyFileConfigLoader

    config = Config()
    for folder in reversed(jupyter_config_path()):  # lowest priority first
        for loader_cls, name in ((JSONFileConfigLoader, "jupyter_jobs_config.json"),
                                 (PyFileConfigLoader, "jupyter_jobs_config.py")):
            if (Path(folder) / name).is_file():
                config.merge(loader_cls(name, path=folder).load_config())
    settings = JobsSettings(config=config)
    for key, value in overrides.items():
        setattr(settings, key, value)
    return settings
