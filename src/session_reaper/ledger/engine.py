"""Turn a ledger URL into a ready SQLAlchemy engine for one of the two supported back ends.

SQLite (the default): WAL so that readers never block the writer, a busy timeout so that a second
process waits instead of failing, foreign keys on, and write transactions opened with BEGIN
IMMEDIATE (use `writer(engine)`). The last point matters: a deferred SQLite transaction that reads
and then writes can fail at once with "database is locked" when another writer got there first;
taking the write lock up front makes concurrent writers (threads, a second replica, two migrators)
simply queue. Reads stay deferred: in WAL they take no lock at all.

PostgreSQL: `postgresql://` means psycopg 3.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import StaticPool

from session_reaper.errors import EXIT_USAGE, ReaperError

BUSY_TIMEOUT_SECONDS = 30.0
_WRITE_OPTION = "session_reaper_ledger_write"


class LedgerUrlError(ReaperError, ValueError):
    """The ledger URL names a back end the ledger does not support."""

    exit_code = EXIT_USAGE


def normalize_url(url: str) -> URL:
    """`postgresql://` and `postgres://` -> psycopg 3; `sqlite:///path` as is; anything else refused."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # SQLAlchemy's ArgumentError; don't echo the URL: it may hold a password
        raise LedgerUrlError(
            "the ledger URL is not a database URL (use sqlite:///FILE or postgresql://...)"
        ) from exc
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        database = parsed.database
        if database and database.startswith("~"):  # config files say ~/...; SQLite would not expand it
            parsed = parsed.set(database=str(Path(database).expanduser()))
        return parsed.set(drivername="sqlite+pysqlite")
    raise LedgerUrlError(
        f"ledger {parsed.render_as_string(hide_password=True)}: unsupported back end"
        f" {parsed.drivername!r} (use sqlite:///FILE or postgresql://...)"
    )


def create_ledger_engine(url: str, *, connect_timeout: int = 10) -> Engine:
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    # pre_ping: a replica outlives PostgreSQL restarts and idle-connection reaping by proxies.
    # connect_timeout: a server that does not answer fails a start in seconds, not minutes.
    return create_engine(
        parsed,
        pool_pre_ping=True,
        pool_size=8,
        max_overflow=8,
        connect_args={"connect_timeout": connect_timeout},
    )


def _switch_to_wal(cursor: Any) -> None:
    """PRAGMA journal_mode=WAL, waiting for the other openers of a new file as a busy timeout would.

    Switching a new database to WAL needs the file to itself, and SQLite answers "database is
    locked" at once, without its busy handler, while another process or thread is switching it too:
    replicas started together on a new ledger would fail at random. Wait for them instead.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:")
    kwargs: dict[str, Any] = {
        "connect_args": {"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
    }
    if in_memory:
        # One shared connection, or every thread would see its own empty database.
        kwargs["poolclass"] = StaticPool
    # A missing directory is not made here: a typo in the path must be an error (opening.py says which).
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin (see the `begin` hook).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                _switch_to_wal(cursor)
            # FULL: an intent must be on disk before its request leaves, even across a power cut.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def writer(engine: Engine) -> Engine:
    """The same engine (same pool) whose transactions take SQLite's write lock when they begin."""
    return engine.execution_options(**{_WRITE_OPTION: True})


def dialect_insert(connection: Connection) -> Any:
    """The back end's INSERT, which has ON CONFLICT (the generic one has not)."""
    return postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert


def inserted_id(result: Any) -> int:
    """The id an INSERT ... RETURNING id gave back."""
    return int(result.scalar_one())
