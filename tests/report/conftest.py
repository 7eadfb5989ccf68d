"""A real SQLite ledger filled through the Ledger API, as sweeps would fill it, on a fake platform clock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from session_reaper.ledger import Ledger, normalize_url
from tests.environment import postgres_unavailable, postgres_url
from tests.helpers.clocks import FakeClock

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=6)
ERROR = "still connected after escalation <b>"
HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


@dataclass
class Close:
    conversation_id: str
    rule: str
    queue_id: str | None
    at: datetime
    decision: str = "close"
    idle_minutes: float = 41


def close(ledger: Ledger, sweep: int, item: Close) -> int:
    """A close as the executor journals it: the decision, each step's intent and outcome, the outcome."""
    decision = ledger.record_decision(
        sweep,
        item.conversation_id,
        decision=item.decision,
        rule=item.rule,
        reason=f"no message for {item.idle_minutes:.0f}m [{item.rule}]",
        queue_id=item.queue_id,
        channel="webmessaging",
        threshold_seconds=1800,
        idle_seconds=item.idle_minutes * 60,
        platform_now=item.at,
        at=item.at,
    )
    for kind in ("annotate", "closing-text", "disconnect:agent", "verify"):
        step = ledger.step_intent(decision, item.conversation_id, kind, "p-1", at=item.at)
        ledger.step_outcome(step, "done", http_status=200, request_count=1, at=item.at)
    ledger.set_decision_outcome(decision, "done", at=item.at)
    return decision


def closes(t0: datetime) -> list[Close]:
    """idle x4 (q-sales x3, q-support x1), customer-left x2 (q-support), orphaned x1 (no queue, a teardown).

    By hour from t0 (on the hour): +0h -> 3, +1h -> 1, +3h -> 3. Idle minutes: 6, 16, 31, 33, 35, 41, 90.
    """
    return [
        Close("c-1", "idle", "q-sales", t0 + timedelta(minutes=5), idle_minutes=31),
        Close("c-2", "idle", "q-sales", t0 + timedelta(minutes=25), idle_minutes=41),
        Close("c-3", "customer-left", "q-support", t0 + timedelta(minutes=50), idle_minutes=6),
        Close("c-4", "idle", "q-support", t0 + timedelta(hours=1, minutes=10), idle_minutes=35),
        Close("c-5", "idle", "q-sales", t0 + timedelta(hours=3, minutes=1), idle_minutes=33),
        Close("c-6", "customer-left", "q-support", t0 + timedelta(hours=3, minutes=2), idle_minutes=16),
        Close("c-7", "orphaned", None, t0 + timedelta(hours=3, minutes=30), "teardown", idle_minutes=90),
    ]


def fill(ledger: Ledger, clock: FakeClock, t0: datetime = T0) -> None:
    """Sweeps around `t0` (on the hour): one 8 days before, a dry run, then two applied sweeps from t0 on.

    From t0 - 7d on: 3 sweeps (2 applied), 7 closes, 70 API requests (10 per close), 2 failures,
    1 warning, 1 cancel.
    """
    items = closes(t0)
    # An old applied sweep, 8 days back: outside a 7d report.
    old = t0 - timedelta(days=8)
    clock.now = old
    sweep = ledger.start_sweep(True)
    close(ledger, sweep, Close("c-old", "idle", "q-old", old))
    ledger.finish_sweep(sweep, {"closed": 1, "apiRequests": 50})

    # A dry run in the period: nothing closed, nothing counted.
    clock.now = t0 - timedelta(minutes=10)
    dry = ledger.start_sweep(False)
    ledger.buffer_decision(dry, "c-1", decision="close", outcome="dry-run", rule="idle", queue_id="q-sales")
    ledger.finish_sweep(dry, {"closed": 0, "apiRequests": 7})

    # Two applied sweeps with the closes, a failure, a cancel, a warning and skips.
    clock.now = t0
    first = ledger.start_sweep(True)
    for item in items[:4]:
        close(ledger, first, item)
    ledger.buffer_decision(first, "c-skip", decision="skip", outcome="skipped", reason="wrote 2m ago")
    failed = ledger.record_decision(
        first, "c-fail", decision="close", rule="idle", reason=HOSTILE, queue_id="q-sales", at=t0
    )
    step = ledger.step_intent(failed, "c-fail", "disconnect:agent", "p-9", at=t0)
    ledger.step_outcome(step, "failed", http_status=503, error_code="service.unavailable", context_id="ctx-9")
    ledger.set_decision_outcome(failed, "failed", error=ERROR)
    clock.now = t0 + timedelta(hours=1, minutes=20)
    ledger.finish_sweep(first, {"closed": 4, "tornDown": 0, "apiRequests": 40, "failed": 1})

    clock.now = t0 + timedelta(hours=3)
    second = ledger.start_sweep(True)
    for item in items[4:]:
        close(ledger, second, item)
    warned = ledger.record_decision(second, "c-warn", decision="warn", rule="idle")
    ledger.set_decision_outcome(warned, "done")
    cancelled = ledger.record_decision(second, "c-cancel", decision="close", rule="idle")
    ledger.set_decision_outcome(cancelled, "cancelled")
    no_step = ledger.record_decision(second, "c-fail2", decision="teardown", rule="orphaned")
    ledger.set_decision_outcome(no_step, "failed")
    clock.now = t0 + timedelta(hours=3, minutes=40)
    ledger.finish_sweep(second, {"closed": 2, "tornDown": 1, "apiRequests": 30, "failed": 1})


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/reaper.db"


@pytest.fixture(scope="session")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    """Filled once per test session (every write is fsynced): tests only read it."""
    url = f"sqlite:///{tmp_path_factory.mktemp('filled')}/reaper.db"
    clock = FakeClock(T0)
    ledger = Ledger.open(url, owner="replica-a", clock=clock)
    try:
        fill(ledger, clock)
        yield ledger
    finally:
        ledger.close()


@pytest.fixture
def postgres_ledger_url() -> Iterator[str]:
    """A fresh schema in the test PostgreSQL (as tests/ledger does), dropped afterwards.

    Skipped (loudly) when nothing answers, unless REQUIRE_POSTGRES is set: tests/environment.py.
    """
    base = postgres_url()
    admin = create_engine(normalize_url(base), connect_args={"connect_timeout": 3})
    schema = f"report_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        admin.dispose()
        postgres_unavailable(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    try:
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
