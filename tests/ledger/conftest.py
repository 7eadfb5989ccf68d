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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from session_reaper.ledger import Ledger, normalize_url
from tests import environment

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


class FakeClock:
    """The platform's clock, as the sweep would hand it to the ledger: moved only by the test."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(scope="session")
def postgres_base() -> str:
    url = environment.postgres_url()
    engine = create_engine(normalize_url(url), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        environment.postgres_unavailable(
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        )
    finally:
        engine.dispose()
    return url


def with_schema(url: str, schema: str) -> str:
    return (
        make_url(url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


@pytest.fixture
def postgres_url(postgres_base: str) -> Iterator[str]:
    schema = f"ledger_test_{uuid.uuid4().hex[:12]}"
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
def sqlite_url(tmp_path: Path) -> str:
    (tmp_path / "ledger").mkdir()  # the ledger never makes directories (a mistyped path is an error)
    return f"sqlite:///{tmp_path}/ledger/session-reaper.db"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ledger(ledger_url: str, clock: FakeClock) -> Iterator[Ledger]:
    journal = Ledger.open(ledger_url, owner="replica-a", clock=clock)
    try:
        yield journal
    finally:
        journal.close()
