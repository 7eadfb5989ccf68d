"""What the events mode writes to the journal: a sweep row per window, and each re-check's line.

Between two reconciliations the watch's own re-checks share one journal sweep row and one set of
caps (`[sweep] max_closes`, `max_teardowns`), as a pass does; the window closes when the next
reconciliation starts, with its summary, or once it has been open `[events] reconcile_interval`,
whichever comes first. A reconciliation that runs long (a backlog, an outage, thousands to read) must
not stretch one window's caps over its whole length: in the week's soak a reconciliation of 250-600 s
(8-20 virtual hours) held every timer's close to 1,200 in that time, 2,093 closes were deferred on the
cap, and the backlog that made reconciliations long grew on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from session_reaper.config import SweepConfig
from session_reaper.core.results import DecisionLine, Summary
from session_reaper.engine.limits import Caps
from session_reaper.engine.off_loop import journalled
from session_reaper.engine.ports import JournalPort
from session_reaper.engine.reconcile import Reconciled
from session_reaper.engine.recording import journal_line
from session_reaper.telemetry import logs

_log = logs.get_logger(component="watch")


@dataclass
class Window:
    sweep_id: int
    caps: Caps
    opened_at: float  # monotonic seconds: the interval is wall time, as the reconciliations' own wait
    summary: Summary = field(default_factory=Summary)


class Windows:
    def __init__(
        self,
        journal: JournalPort,
        sweep: SweepConfig,
        apply: bool,
        owner: str,
        interval: timedelta,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._journal, self._sweep, self._apply, self._owner = journal, sweep, apply, owner
        self._interval, self._monotonic = interval.total_seconds(), monotonic
        self._window: Window | None = None
        # The sweep row is written in a worker thread: re-checks starting together must open one
        # window (one row, one set of caps), not one each with all but the last never finished.
        self._opening = asyncio.Lock()

    async def current(self) -> Window:
        """The open window; the first re-check after a reconciliation, or after the window has been open
        an interval, opens the next one."""
        async with self._opening:
            window = self._window
            if window is not None and self._monotonic() - window.opened_at >= self._interval:
                await self.close()
            if self._window is None:
                sweep_id = await journalled(self._journal.start_sweep, self._apply, owner=self._owner)
                caps = Caps(self._sweep.max_closes, self._sweep.max_teardowns)
                self._window = Window(sweep_id, caps, self._monotonic())
            return self._window

    async def close(self) -> None:
        window, self._window = self._window, None
        if window is not None:
            try:
                await journalled(
                    self._journal.finish_sweep, window.sweep_id, window.summary.to_json()["summary"]
                )
            except Exception as exc:  # the journal's trouble must not stop the watch
                _log.warning("events window not journalled", error=str(exc))


async def emit(
    journal: JournalPort,
    sweep_id: int,
    summary: Summary,
    done: Reconciled,
    on_line: Callable[[DecisionLine], None] | None,
) -> None:
    """Journal (in bulk, unless journalled before acting), log, count and hand on one re-check's line."""
    line = done.line
    await journal_line(journal, sweep_id, line, done.verdict, done.now, _log, trigger=done.trigger.value)
    summary.count(line)
    if on_line is not None:
        on_line(line)
