"""The ids of the messages the reaper sent, so its own texts never count as activity."""

from __future__ import annotations

from datetime import timedelta

from session_reaper.ledger import Ledger

from .conftest import T0, FakeClock


def test_the_reapers_messages_are_remembered_by_conversation(ledger: Ledger, clock: FakeClock) -> None:
    assert ledger.reaper_messages("conv-1") == {}
    assert ledger.warned_at("conv-1") is None
    ledger.record_reaper_message("conv-1", "msg-w1", "warning")
    clock.advance(minutes=2)
    ledger.record_reaper_message("conv-1", "msg-c1", "closing")
    ledger.record_reaper_message("conv-2", "msg-w2", "warning", sent_at=T0 + timedelta(minutes=5))
    assert ledger.reaper_messages("conv-1") == {"msg-w1": "warning", "msg-c1": "closing"}
    assert ledger.warned_at("conv-1") == T0
    assert ledger.warned_at("conv-2") == T0 + timedelta(minutes=5)


def test_recording_a_message_twice_keeps_the_first(ledger: Ledger, clock: FakeClock) -> None:
    # Recovery may adopt a message id the crashed process had already recorded.
    ledger.record_reaper_message("conv-1", "msg-w1", "warning")
    clock.advance(minutes=1)
    ledger.record_reaper_message("conv-1", "msg-w1", "warning")
    assert ledger.reaper_messages("conv-1") == {"msg-w1": "warning"}
    assert ledger.warned_at("conv-1") == T0


def test_the_latest_warning_counts(ledger: Ledger, clock: FakeClock) -> None:
    ledger.record_reaper_message("conv-1", "msg-w1", "warning")
    ledger.record_reaper_message("conv-1", "msg-w2", "warning", sent_at=T0 + timedelta(hours=1))
    assert ledger.warned_at("conv-1") == T0 + timedelta(hours=1)
