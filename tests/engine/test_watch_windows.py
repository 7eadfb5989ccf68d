"""The events mode's windows: one journal sweep row and one set of caps for the re-checks between two
reconciliations, and never for longer than `[events] reconcile_interval`.

Found by the week's soak: a reconciliation of 250-600 s (8-20 virtual hours at 120x) kept one window
open all that time, so its 1,200 closes were all the timers could do in those hours; 2,093 closes were
deferred on the cap, and the backlog that made reconciliations long grew on. Against a real SQLite
ledger; the clock is a counter, not a sleep.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from session_reaper.config import Settings
from session_reaper.engine.watch_journal import Windows
from session_reaper.ledger import Ledger
from session_reaper.ledger.schema import sweeps


def test_a_window_open_a_reconcile_interval_is_closed_and_the_next_has_fresh_caps(tmp_path: Path) -> None:
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'l.db'}")
    sweep = Settings.model_validate({"sweep": {"max_closes": 2, "max_teardowns": 1}}).sweep
    clock = [0.0]
    windows = Windows(ledger, sweep, True, "events-mode", timedelta(seconds=600), lambda: clock[0])

    async def main() -> list[tuple[int, int]]:
        seen = []
        first = await windows.current()
        first.caps.closes_left = 0  # the cap reached
        clock[0] = 599.0
        seen.append(((await windows.current()).sweep_id, (await windows.current()).caps.closes_left))
        clock[0] = 600.0  # the reconciliation still running: the window has been open its interval
        later = await windows.current()
        seen.append((later.sweep_id, later.caps.closes_left))
        await windows.close()
        return seen

    try:
        (same, same_left), (later, later_left) = asyncio.run(main())
        assert (same_left, later_left) == (0, 2)
        assert later != same
        with ledger.engine.connect() as connection:
            finished = dict(connection.execute(select(sweeps.c.id, sweeps.c.finished_at)).all())
        assert set(finished) == {same, later} and all(finished.values())  # both journalled as finished
    finally:
        ledger.close()
