"""jupyter-jobs: run cells, notebooks and scripts as jobs on bigger hardware."""

from ._version import __version__

#: The Python API (jupyter_jobs/api.py), imported on first use so `import jupyter_jobs` stays cheap for
#: the CLI and the server extension.
_API = ("Job", "JobRun", "JobSchedule", "JobFailed", "JobCancelled", "get_run", "get_schedule", "list_schedules")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'jupyter_jobs' has no attribute {name!r}")


def _jupyter_server_extension_points():
    """The Jupyter server extension (imported only when a server loads it)."""
    from .server.app import JobsApp

    return [{"module": "jupyter_jobs.server.app", "app": JobsApp}]


def _jupyter_labextension_paths():
    """The prebuilt Lab extension (`jupyter labextension develop --overwrite .` links it in dev installs)."""
    return [{"src": "labextension", "dest": "jupyter-jobs"}]


def load_ipython_extension(ipython):
    """`%load_ext jupyter_jobs`: the `%%job` / `%job` magics (imported only when loaded)."""
    from .magics import load_ipython_extension as load

    load(ipython)
