"""What to run: the JobSpec model, the config.yaml reader and writer."""

from .config import LoadedConfig, load_config, parse_config
from .models import FileRef, JobSpec, PythonEnv
from .writer import to_yaml

__all__ = ["FileRef", "JobSpec", "LoadedConfig", "PythonEnv", "load_config", "parse_config", "to_yaml"]
