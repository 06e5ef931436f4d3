"""Which client a front door gets: a running Jupyter server's jobs API, or the service in this process.

Its own module, above both clients, so neither client imports the other's module to be chosen."""

from __future__ import annotations

from .client import EmbeddedClient
from .remote import RemoteClient, find_server
from .settings import JobsSettings


def connect(settings: JobsSettings | None = None, submitting: bool = False) -> EmbeddedClient | RemoteClient:
    """A running Jupyter server's jobs API when one is found (`JUPYTER_JOBS_URL`, or a server whose root
    contains this folder), else the service in this process. `JUPYTER_JOBS_URL=embedded` forces the latter.

    `submitting`: a submit follows at once (a CLI's `execute`, `run`, `fork`); run in this process, it
    will likely start a local runner, so one starts now (executors/standby.py) while the service is
    opened. A run that goes elsewhere leaves it unused, and it exits with this process."""
    found = find_server()
    if found:
        return RemoteClient(*found, settings=settings)
    if submitting:
        from .executors.standby import prestart  # not for reads: they import no executor

        prestart()
    return EmbeddedClient(settings)
