"""The saved read schedule survives the small disagreement between two processes' estimates of the
platform's time, and is dropped when the platform's clock really went back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from session_reaper.core.schedule import CLOCK_SKEW
from session_reaper.ledger import Ledger, ScheduledRead

from .conftest import T0


@pytest.mark.parametrize(
    ("decided_after_now", "kept"),
    [
        (timedelta(0), True),
        (timedelta(seconds=2), True),  # the Date header's whole seconds
        (timedelta(seconds=40), True),  # a first process slowed down by a loaded machine
        (CLOCK_SKEW, True),
        (CLOCK_SKEW + timedelta(seconds=1), False),
        (timedelta(hours=3), False),  # the platform's (the emulator's) clock was set back
    ],
)
def test_a_row_decided_just_after_now_is_kept_one_decided_well_after_is_not(
    ledger_url: str, decided_after_now: timedelta, kept: bool
) -> None:
    ledger = Ledger.open(ledger_url)
    try:
        until = T0 + timedelta(hours=6)
        ledger.save_read_schedule("policy", T0 + decided_after_now, {"c1": ScheduledRead(until, None, None)})
        assert ("c1" in ledger.read_schedule("policy", T0)) is kept
    finally:
        ledger.close()
