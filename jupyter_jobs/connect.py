"""Which client a front door gets: a running Jupyter server's jobs API, or the service in this process.

Its own module, above both clients, so neither client imports the other's module to be chosen."""

from __future__ import annotations

from .client import EmbeddedClient
from .remote import RemoteClient, find_server
from .settings import JobsSettings


def connect(settings: JobsSettings | None = None) -> EmbeddedClient | RemoteClient:
    """A running Jupyter server's jobs API when one is found (`JUPYTER_JOBS_URL`, or a server whose root
    contains this folder), else the service in this process. `JUPYTER_JOBS_URL=embedded` forces the latter."""
    found = find_server()
    return RemoteClient(*found, settings=settings) if found else EmbeddedClient(settings)
