"""jupyter-jobs: run cells, notebooks and scripts as jobs on bigger hardware."""

from ._version import __version__

__all__ = ["__version__"]
