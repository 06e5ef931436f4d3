"""A real PostgreSQL server for the shared run index (scripts/postgres.sh start).

Outside CI these tests skip with a reason when JUPYTER_JOBS_TEST_PG_URL is unset or the server does not
answer; under CI=true that is a failure. Each test gets a database of its own, created empty and
dropped after it, so migrations always start from nothing.
"""

from __future__ import annotations

import os
import secrets

import pytest
from helpers import require_in_ci
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

START = 'eval "$(bash scripts/postgres.sh start)"'


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    url = os.environ.get("JUPYTER_JOBS_TEST_PG_URL")
    if not url:
        require_in_ci(f"JUPYTER_JOBS_TEST_PG_URL is not set ({START})")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        require_in_ci("the `psycopg` driver is not installed (pip install -e '.[test]')")
    engine = create_engine(url)
    try:
        with engine.connect():
            pass
    except Exception as exc:  # noqa: BLE001 - any failure to connect means: no server to test against
        require_in_ci(f"PostgreSQL at {make_url(url).render_as_string(hide_password=True)} does not answer: {exc}")
    finally:
        engine.dispose()
    return url


@pytest.fixture
def pg_url(pg_server_url) -> str:
    """URL of a new, empty database on the test server, dropped when the test ends."""
    name = f"jobs_test_{secrets.token_hex(6)}"
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def index_url(request, tmp_path_factory) -> str:
    """The run index two services share: a SQLite file beside neither's data dir, or a PostgreSQL database."""
    if request.param == "postgresql":
        return request.getfixturevalue("pg_url")
    return f"sqlite:///{tmp_path_factory.mktemp('shared-index')}/jobs.db"
