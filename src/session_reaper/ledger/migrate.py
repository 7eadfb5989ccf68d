"""Bring a ledger's schema to the version this code needs, programmatically (no alembic.ini on disk).

The whole upgrade runs in one transaction (both back ends have transactional DDL): a migration that
fails leaves the ledger as it was. Concurrent migrators are serialized — on PostgreSQL by a
transaction-scoped advisory lock, on SQLite by BEGIN IMMEDIATE — so that four replicas starting at
once upgrade the ledger once and the other three find it current.
"""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from session_reaper.errors import EXIT_USAGE, ReaperError
from session_reaper.ledger.engine import writer

VERSION_TABLE = "ledger_version"
# Any bigint works as long as no other application on the same PostgreSQL uses it.
ADVISORY_LOCK_KEY = 0x5E55_10A1_1ED6_E201

_SCRIPTS = Path(__file__).with_name("migrations")


class LedgerVersionError(ReaperError, RuntimeError):
    """The ledger was written by a newer session-reaper than this one."""

    exit_code = EXIT_USAGE


def script_directory() -> ScriptDirectory:
    return ScriptDirectory(str(_SCRIPTS), version_locations=[str(_SCRIPTS / "versions")])


def head() -> str:
    revision = script_directory().get_current_head()
    assert revision is not None
    return revision


def current_revision(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def upgrade(engine: Engine, target: str = "head") -> str | None:
    """Upgrade to `target` (a revision id or "head"); returns the revision the ledger is at."""
    script = script_directory()
    config = Config()
    with writer(engine).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        found = current_revision(connection)
        if found is not None and not _known(script, found):
            raise LedgerVersionError(
                f"the ledger is at schema revision {found!r}, newer than this session-reaper knows "
                f"(its newest is {script.get_current_head()!r}): upgrade session-reaper"
            )

        def steps(revision: object, _context: MigrationContext) -> list[object]:
            return list(script._upgrade_revs(target, revision))  # type: ignore[arg-type]

        environment = EnvironmentContext(config, script, fn=steps)
        with environment:
            environment.configure(connection=connection, version_table=VERSION_TABLE)
            environment.run_migrations()
        return current_revision(connection)


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except Exception:  # alembic raises its own ResolutionError family for unknown ids
        return False
