"""What an executor whose runner runs on other machines needs when those machines share the service's
data dir over a network file system (Slurm's compute nodes, Ray's workers): where they see a path of
the service's machine (`path_map`), and how the runner gets the secrets without an engine storing them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from traitlets import Dict, HasTraits, Unicode

#: Where the runner finds the secrets: a file written owner-only into the run dir, read and deleted by
#: the runner at start, so they never travel in what an engine keeps and shows (a Ray job's runtime_env,
#: a Slurm job's environment saved by slurmctld).
SECRETS_FILE = ".secrets.json"
SECRETS_ENV = "JUPYTER_JOBS_SECRETS_FILE"


class SharedFileSystem(HasTraits):
    """Mixed into a traitlets executor: `c.<Executor>.path_map` and the path mapping it gives."""

    path_map = Dict(Unicode(), help="Folder of the service's machine -> where the engine's nodes see it, "
                                    "for the file system shared with the nodes; it must cover the data dir "
                                    "(and datasets, the project folder). Default: the same paths (nodes that "
                                    "mount the shared file system where this machine does).").tag(config=True)

    def map_path(self, path: Path) -> str:
        """`path` of the service's machine as the nodes see it (longest `path_map` prefix)."""
        path = Path(path)
        for host in sorted(self.path_map, key=len, reverse=True):
            if path == Path(host) or Path(host) in path.parents:
                return str(Path(self.path_map[host], path.relative_to(host)))
        return str(path)

    def folder_path(self, host: str, name: str) -> str:
        return self.map_path(Path(host))

    def hand_over_secrets(self, run_dir: Path, secrets: dict[str, str]) -> dict[str, str]:
        """Write `secrets` for the runner (owner-only, never through a planted link); the variables that
        tell the runner where they are."""
        if not secrets:
            return {}
        path = Path(run_dir) / SECRETS_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(secrets, fh)
        return {SECRETS_ENV: self.map_path(path)}
