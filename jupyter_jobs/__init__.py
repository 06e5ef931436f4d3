"""jupyter-jobs: run cells, notebooks and scripts as jobs on bigger hardware."""

from ._version import __version__

__all__ = ["__version__"]


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
