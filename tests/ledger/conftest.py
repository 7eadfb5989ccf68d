"""Ledger fixtures: every test runs on both back ends.

SQLite lives in tmp_path. PostgreSQL gets a fresh, uniquely named schema per test (search_path in the
URL), dropped afterwards, so pytest-xdist workers never see each other's rows. The PostgreSQL is the
local one unless SESSION_REAPER_TEST_POSTGRES_URL says otherwise (tests/environment.py); when nothing
answers there the PostgreSQL cases are skipped, loudly — unless REQUIRE_POSTGRES is set (CI), where
they fail instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from session_reaper.ledger import Ledger, normalize_url
from tests import environment
from tests.helpers.clocks import T0, FakeClock

__all__ = ["T0", "FakeClock"]  # the test modules import the clock from here


@pytest.fixture(scope="session")
def postgres_base() -> str:
    return environment.answering_postgres()


def with_schema(url: str, schema: str) -> str:
    return (
        make_url(url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


@contextmanager
def fresh_schema(postgres_base: str, prefix: str = "ledger_test") -> Iterator[str]:
    """A URL on a new, uniquely named schema, dropped with everything in it on leaving."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalize_url(postgres_base))
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield with_schema(postgres_base, schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def postgres_url(postgres_base: str) -> Iterator[str]:
    with fresh_schema(postgres_base) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    (tmp_path / "ledger").mkdir()  # the ledger never makes directories (a mistyped path is an error)
    return f"sqlite:///{tmp_path}/ledger/session-reaper.db"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def ledger(ledger_url: str, clock: FakeClock) -> Iterator[Ledger]:
    journal = Ledger.open(ledger_url, owner="replica-a", clock=clock)
    try:
        yield journal
    finally:
        journal.close()
