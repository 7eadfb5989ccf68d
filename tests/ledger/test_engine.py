"""URLs and per-back-end settings."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import event, text

from session_reaper.ledger import Ledger, LedgerUrlError, normalize_url

from .conftest import T0


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://reaper@db.example:5432/ledger", "postgresql+psycopg"),
        ("postgres://reaper@db.example/ledger", "postgresql+psycopg"),
        ("postgresql+psycopg://reaper@db.example/ledger", "postgresql+psycopg"),
        ("sqlite:///session-reaper.db", "sqlite+pysqlite"),
    ],
)
def test_urls_map_to_the_supported_drivers(url: str, driver: str) -> None:
    assert normalize_url(url).drivername == driver


@pytest.mark.parametrize("url", ["mysql://root:hunter2@db/ledger", "not a url with hunter2"])
def test_other_urls_are_refused_without_echoing_a_password(url: str) -> None:
    with pytest.raises(LedgerUrlError) as caught:
        normalize_url(url)
    assert "hunter2" not in str(caught.value)


def test_a_home_relative_sqlite_path_is_expanded() -> None:
    assert normalize_url("sqlite:///~/reaper/ledger.db").database == str(Path.home() / "reaper" / "ledger.db")


def test_describe_never_shows_the_password() -> None:
    ledger = Ledger(__import__("sqlalchemy").create_engine(normalize_url("postgresql://u:hunter2@h/db")))
    assert "hunter2" not in ledger.describe()
    assert "hunter2" not in repr(ledger.engine)


def test_only_a_lost_connection_is_called_lost_and_it_never_shows_the_password(ledger_url: str) -> None:
    """What a pass goes on after (engine/sweep.py): the server gone under a statement, or refusing
    connections (a restart, a failover). A missing table is not lost: it needs a person."""
    from sqlalchemy.engine import make_url

    with_password = make_url(ledger_url).set(password="hunter2-secret").render_as_string(hide_password=False)
    with Ledger.open(with_password) as ledger:
        with pytest.raises(Exception) as missing, ledger.engine.connect() as connection:
            connection.execute(text("SELECT * FROM no_such_table"))
        assert ledger.connection_lost(missing.value) is None
        if ledger.backend != "postgresql":
            return
        with pytest.raises(Exception) as killed, ledger.engine.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        lost = ledger.connection_lost(killed.value)
        assert lost is not None and "connection lost: terminating connection" in str(lost)
        assert str(lost).startswith("ledger postgresql://") and "hunter2" not in str(lost)
        ledger.ping()  # a new connection: it answers again
    refused = make_url(with_password).set(port=1).render_as_string(hide_password=False)
    ledger = Ledger(__import__("sqlalchemy").create_engine(normalize_url(refused)))
    with pytest.raises(Exception) as down:
        ledger.ping()
    ledger.engine.dispose()
    lost = ledger.connection_lost(down.value)
    assert lost is not None and "connection lost" in str(lost) and "hunter2" not in str(lost)


def test_sqlite_is_wal_with_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with Ledger.open(f"sqlite:///{path}") as ledger, ledger.engine.connect() as connection:
        assert path.exists()
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30000
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL


def test_a_missing_directory_is_an_error_and_is_not_made(tmp_path: Path) -> None:
    from session_reaper.ledger import LedgerUnavailable

    for missing in (tmp_path / "nested" / "ledger.db", tmp_path / "a" / "b" / "c" / "ledger.db"):
        with pytest.raises(LedgerUnavailable, match=r"does not exist") as raised:
            Ledger.open(f"sqlite:///{missing}")
        assert str(missing.parent) in str(raised.value) and not raised.value.unreachable
    assert list(tmp_path.iterdir()) == []


def test_foreign_keys_are_enforced(ledger: Ledger) -> None:
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        ledger.step_intent(999, "conv-1", "annotate", "cust-1")


def test_sqlite_readers_take_no_lock_and_writers_take_it_up_front(tmp_path: Path) -> None:
    with Ledger.open(f"sqlite:///{tmp_path}/ledger.db") as ledger:
        ledger.record_reaper_message("conv-1", "msg-1", "closing", sent_at=T0)
        begins: list[str] = []
        event.listen(
            ledger.engine,
            "before_cursor_execute",
            lambda _c, _cur, statement, *_: (
                begins.append(statement) if statement.startswith("BEGIN") else None
            ),
        )
        ledger.claim("conv-1", now=T0)
        ledger.reaper_messages("conv-1")
        assert begins == ["BEGIN IMMEDIATE", "BEGIN"]

        # Another process is mid-write (holds the write lock): reads go on without waiting for it.
        other = sqlite3.connect(str(tmp_path / "ledger.db"), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("DELETE FROM reaper_messages")
        assert ledger.reaper_messages("conv-1") == {"msg-1": "closing"}
        other.execute("COMMIT")
        other.close()
        assert ledger.reaper_messages("conv-1") == {}
