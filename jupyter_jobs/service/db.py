"""The run index: SQLAlchemy 2 tables, created and upgraded by Alembic migrations.

The run directory is the truth about a run; this database is the index the CLI, the API and the
UI query. SQLite by default (one host); PostgreSQL by URL for several servers sharing one index.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import JSON, Boolean, Float, Integer, String, Text, create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from ..errors import JobsError
from .locks import index_lock
from .safefs import private_file

#: Databases the run index is tested on (the dispatch lock is the file's or the server's own).
DIALECTS = ("sqlite", "postgresql")

#: The newest migration in service/migrations/versions (a test keeps the two in step).
SCHEMA_REVISION = "0004"


class Base(DeclarativeBase):
    pass


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    desc: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="command")
    status: Mapped[str] = mapped_column(String(16), index=True)
    executor: Mapped[str] = mapped_column(String(64))
    instance_type: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float, index=True)
    started_at: Mapped[float | None] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    spec: Mapped[dict] = mapped_column(JSON)
    bundle: Mapped[dict] = mapped_column(JSON)
    origin: Mapped[dict] = mapped_column(JSON, default=dict)
    handle: Mapped[dict] = mapped_column(JSON, default=dict)
    outputs: Mapped[list] = mapped_column(JSON, default=list)
    notes: Mapped[list] = mapped_column(JSON, default=list)
    progress: Mapped[float | None] = mapped_column(Float)
    progress_message: Mapped[str | None] = mapped_column(Text)
    parent_id: Mapped[str | None] = mapped_column(String(32), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    owner: Mapped[str | None] = mapped_column(String(128))
    run_dir: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[float | None] = mapped_column(Float, index=True)
    data_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    #: What a started run holds: {"cpus", "memory_gb", "gpus": [ids]}; None while queued.
    resources: Mapped[dict | None] = mapped_column(JSON)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    #: The process that claimed the run (`procs.identity`) until its runner is started.
    claimed_by: Mapped[dict | None] = mapped_column(JSON)
    #: The schedule that fired this run (it stays when the schedule is deleted).
    schedule_id: Mapped[str | None] = mapped_column(String(32), index=True)


class ScheduleRow(Base):
    """A saved job and when to fire it; `next_fire_at` is the tick a server claims (compare-and-set)."""

    __tablename__ = "schedules"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    cron: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    missed: Mapped[str] = mapped_column(String(16))
    overlap: Mapped[str] = mapped_column(String(16))
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float)
    #: None while paused.
    next_fire_at: Mapped[float | None] = mapped_column(Float, index=True)
    executor: Mapped[str] = mapped_column(String(64))
    instance_type: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict] = mapped_column(JSON, default=dict)
    #: The SubmitRequest each tick submits (spec, bundle, origin, executor).
    job: Mapped[dict] = mapped_column(JSON)
    owner: Mapped[str | None] = mapped_column(String(128))
    last_run_id: Mapped[str | None] = mapped_column(String(32))
    last_fired_at: Mapped[float | None] = mapped_column(Float)
    #: [{"at", "reason"}], newest first, the last SKIPPED_KEPT.
    skipped: Mapped[list] = mapped_column(JSON, default=list)
    skipped_count: Mapped[int] = mapped_column(Integer, default=0)


class IndexUnavailable(JobsError):
    """The run index cannot be used as configured (`c.JobsSettings.db_url`)."""

    status = 503


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise IndexUnavailable(f"c.JobsSettings.db_url: {url!r} is not a database URL",
                               hint="e.g. postgresql+psycopg://USER:PASSWORD@HOST/DB") from None
    if parsed.get_backend_name() not in DIALECTS:
        raise IndexUnavailable(f"c.JobsSettings.db_url: {parsed.get_backend_name()} is not supported for the "
                               f"run index", hint="use sqlite:///PATH or postgresql+psycopg://...")
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise IndexUnavailable("c.JobsSettings.db_url: an in-memory SQLite database cannot be shared by "
                                   "the processes of a run", hint="give it a file: sqlite:///PATH")
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        private_file(Path(parsed.database))  # owner-only, before SQLite creates it world-readable
        engine = create_engine(parsed, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _):
            # Per connection. The journal mode (WAL) belongs to the file and is set once, by `upgrade`:
            # asking for it on every connection makes cold opens racing each other fail "database is
            # locked" without waiting (SQLITE_BUSY_RECOVERY).
            dbapi_conn.execute("PRAGMA synchronous=NORMAL")

        return engine
    try:
        return create_engine(parsed, pool_pre_ping=True)
    except ImportError as exc:
        raise IndexUnavailable(f"c.JobsSettings.db_url: the driver for {parsed.drivername} is missing ({exc})",
                               hint="pip install 'jupyter-jobs[postgres]'") from None


def connect(engine: Engine) -> Connection:
    """A connection, or one clear error naming the database (never its password) when it is down."""
    try:
        return engine.connect()
    except OperationalError as exc:
        where = engine.url.render_as_string(hide_password=True)
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise IndexUnavailable(f"the run index at {where} cannot be reached: {reason}",
                               hint="check c.JobsSettings.db_url and that the database server runs") from None


def current_revision(engine: Engine) -> str | None:
    with connect(engine) as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except (OperationalError, ProgrammingError):
            return None  # no schema yet


def upgrade(engine: Engine) -> None:
    """Bring the schema to SCHEMA_REVISION; cheap when it is there already (no Alembic import)."""
    if current_revision(engine) == SCHEMA_REVISION:
        return
    with index_lock(engine, "migrate"):  # one process migrates, the others wait and re-check
        if current_revision(engine) == SCHEMA_REVISION:
            return
        from alembic import command
        from alembic.config import Config

        if engine.dialect.name == "sqlite":  # WAL: readers never block the writer; several processes share the file
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")


def sessions(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)
