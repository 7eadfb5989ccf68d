"""The schema is the program's own business: created on open, upgraded in place, never dropped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from session_reaper.ledger import Ledger, LedgerVersionError, migrate
from session_reaper.ledger.engine import create_ledger_engine
from session_reaper.ledger.schema import metadata

from .conftest import T0, FakeClock


def test_the_migrations_build_exactly_the_schema_the_code_uses(ledger: Ledger) -> None:
    with ledger.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": migrate.VERSION_TABLE})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_a_v1_ledger_with_rows_is_upgraded_in_place(ledger_url: str) -> None:
    engine = create_ledger_engine(ledger_url)
    assert migrate.upgrade(engine, "0001") == "0001"
    with engine.begin() as connection:
        # Written the way v1 wrote them: raw SQL against the v1 tables, nothing from today's code.
        connection.execute(
            text("INSERT INTO sweeps (owner, apply, started_at) VALUES ('old-replica', :t, :at)"),
            {"t": True, "at": datetime(2026, 11, 20, 9, tzinfo=UTC)},
        )
        connection.execute(
            text(
                "INSERT INTO decisions"
                " (sweep_id, conversation_id, rule, decision, outcome, reason, decided_at)"
                " SELECT max(id), 'conv-old', 'idle', 'close', 'done', 'no message for 41m', :at FROM sweeps"
            ),
            {"at": datetime(2026, 11, 20, 9, tzinfo=UTC)},
        )
        connection.execute(
            text(
                "INSERT INTO steps (decision_id, conversation_id, kind, participant_id, intent_at)"
                " SELECT max(id), 'conv-old', 'disconnect:agent', 'agent-1', :at FROM decisions"
            ),
            {"at": datetime(2026, 11, 20, 9, tzinfo=UTC)},
        )
        tables = _tables(connection)
    engine.dispose()
    assert "reaper_messages" not in tables

    with Ledger.open(ledger_url, clock=FakeClock(T0)) as ledger:
        assert ledger.schema_revision() == migrate.head() == "0009"
        # v1's rows are intact and readable through today's code, open intent included.
        [pending] = ledger.pending_steps()
        assert (pending.owner, pending.conversation_id, pending.kind) == (
            "old-replica",
            "conv-old",
            "disconnect:agent",
        )
        assert pending.intent_at == datetime(2026, 11, 20, 9, tzinfo=UTC)
        assert ledger.closes_by("rule", datetime(2026, 11, 1, tzinfo=UTC)) == [("idle", 1)]
        # ... and v2's table works; new ids continue after the old ones.
        ledger.record_reaper_message("conv-old", "msg-1", "closing")
        assert ledger.reaper_messages("conv-old") == {"msg-1": "closing"}
        assert ledger.start_sweep(True) == 2
        # ... and v4's: queue names, and the old close grouped by its (unnamed) queue.
        ledger.record_queue("queue-a", "Sales")
        ledger.record_queue("queue-b", None, status=403)
        assert ledger.known_queues() == {"queue-a", "queue-b"}
        assert ledger.closes_by("queue", datetime(2026, 11, 1, tzinfo=UTC)) == [("(no queue)", 1)]


def test_opening_a_current_ledger_again_changes_nothing(ledger_url: str) -> None:
    with Ledger.open(ledger_url, clock=FakeClock(T0)) as first:
        sweep = first.start_sweep(True, at=T0)
    with Ledger.open(ledger_url) as second:
        assert second.schema_revision() == "0009"
        with second.engine.connect() as connection:
            assert connection.execute(text("SELECT id FROM sweeps")).scalars().all() == [sweep]


def test_a_ledger_from_a_newer_version_is_refused_not_damaged(ledger_url: str) -> None:
    Ledger.open(ledger_url).close()
    engine = create_ledger_engine(ledger_url)
    with engine.begin() as connection:
        connection.execute(text(f"UPDATE {migrate.VERSION_TABLE} SET version_num = '0099'"))
    engine.dispose()
    with pytest.raises(LedgerVersionError, match="newer"):
        Ledger.open(ledger_url)
    engine = create_ledger_engine(ledger_url)
    with engine.connect() as connection:
        assert migrate.current_revision(connection) == "0099"
        assert "reaper_messages" in _tables(connection)
    engine.dispose()


def _tables(connection: object) -> set[str]:
    from sqlalchemy import inspect

    return set(inspect(connection).get_table_names())
