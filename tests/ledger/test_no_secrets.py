"""No token, no secret and no message text ever reaches the ledger.

A realistic close — including a warning and a closing text, a failed step whose error quotes a
header, and a crash recovery — is journalled, then the whole database is dumped and searched.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import inspect, text

from session_reaper.ledger import Ledger

from .conftest import FakeClock

SECRET = "s3cr3t-Client-Secret-9f8e7d"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.access-token-4c3b2a"
CUSTOMER_TEXT = "my card number is 4111 1111 1111 1111"
WARNING_TEXT = "Are you still there? This chat will close soon if we don't hear from you."


def test_a_full_close_leaves_no_secret_and_no_message_text(
    ledger: Ledger, clock: FakeClock, monkeypatch: object
) -> None:
    monkeypatch.setenv("GENESYSCLOUD_OAUTHCLIENT_SECRET", SECRET)  # type: ignore[attr-defined]
    sweep = ledger.start_sweep(True)
    assert ledger.claim("conv-1", now=clock.now, ttl=timedelta(minutes=2))
    decision = ledger.record_decision(
        sweep,
        "conv-1",
        decision="close",
        rule="idle",
        reason="no message for 41m (threshold 30m)",
        queue_id="q-1",
        channel="webmessaging",
        threshold_seconds=1800,
        idle_seconds=2460,
        platform_now=clock.now,
    )
    for kind, participant, message_id, message_kind in [
        ("warning-text", "agent-1", "msg-w", "warning"),
        ("annotate", "cust-1", None, None),
        ("closing-text", "agent-1", "msg-c", "closing"),
    ]:
        step = ledger.step_intent(decision, "conv-1", kind, participant)
        if message_id and message_kind:
            ledger.record_reaper_message("conv-1", message_id, message_kind)
        ledger.step_outcome(step, "done", http_status=200, context_id="ctx-ok", request_count=1)
        clock.advance(seconds=1)
    failed = ledger.step_intent(decision, "conv-1", "disconnect:agent", "agent-1")
    ledger.step_outcome(
        failed, "failed", http_status=401, context_id="ctx-401", error_code=f"bad.credentials Bearer {TOKEN}"
    )
    ledger.set_decision_outcome(
        decision, "failed", error=f"401 bad.credentials: Authorization: Bearer {TOKEN} client_secret={SECRET}"
    )
    crashed = ledger.step_intent(decision, "conv-1", "disconnect:conversation")
    ledger.step_outcome(crashed, "resolved-done")
    ledger.release("conv-1")
    ledger.finish_sweep(sweep, {"closed": 0, "failed": 1, "apiRequests": 9, "durationSeconds": 1.5})

    dump = _dump(ledger)
    assert "conv-1" in dump and "msg-w" in dump and "ctx-401" in dump  # the dump is real
    for forbidden in (SECRET, TOKEN, CUSTOMER_TEXT, WARNING_TEXT, "Are you still there"):
        assert forbidden not in dump


def _dump(ledger: Ledger) -> str:
    """SQLite: iterdump, what a copy of the ledger file would show. PostgreSQL: every row of every table."""
    if ledger.backend == "sqlite":
        raw = ledger.engine.raw_connection()
        try:
            return "\n".join(raw.driver_connection.iterdump())  # type: ignore[union-attr]
        finally:
            raw.close()
    with ledger.engine.connect() as connection:
        rows = [
            repr(row)
            for table in inspect(connection).get_table_names()
            for row in connection.execute(text(f'SELECT * FROM "{table}"'))
        ]
    return "\n".join(rows)
