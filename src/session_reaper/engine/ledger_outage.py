"""A pass's view of its ledger's connection: lost under one conversation, waited for, given up on.

When PostgreSQL restarts (or fails over) under a running pass, the journal call in flight fails: that
conversation's trouble only (fix 38). What the pass then needs to know, and keeps here: whether a
failure is such a lost connection (the journal says, `connection_lost`: anything else, a table gone,
is no outage and fails the pass as it is); that nothing new may start until the ledger answers again
(a pass going on meanwhile would read and act on every conversation left, each failing at its first
journal call, its requests spent); when to give up (a restart is back within seconds, a managed
failover within about a minute: a ledger silent for longer ends the pass, named); and the leases of the
conversations it cut off, given back once the ledger answers so that the next pass need not wait them
out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from session_reaper.engine.off_loop import journalled
from session_reaper.engine.ports import JournalPort
from session_reaper.errors import ReaperError, describe, leaves
from session_reaper.telemetry import logs

_log = logs.get_logger()

LEDGER_WAIT = 60.0  # seconds a lost ledger is waited for before the pass ends
LEDGER_PROBE_EVERY = 1.0  # seconds between two looks at a lost ledger
LEDGER_LOST_REASON = "the ledger's connection was lost under it: nothing more done; read again next pass"


class LedgerGone(ReaperError):
    """The ledger's connection was lost and it did not answer again in time: the pass ends."""

    def __init__(self, lost: ReaperError, waited: float) -> None:
        super().__init__(f"{lost}; not back within {waited:.0f} s: the pass stopped there")


class LedgerOutage:
    """One pass's record of its ledger's connection. `lost` tells an outage from any other failure;
    `cut_off` notes one conversation it cut off; `answers` is what each worker asks before starting
    the next conversation; `give_back` releases the cut-off conversations' leases."""

    def __init__(self, journal: JournalPort, owner: str, stopping: Callable[[], bool]) -> None:
        self._journal = journal
        self._owner = owner
        self._stopping = stopping
        self._lost: ReaperError | None = None  # lost, not answering again yet
        self._lost_since = 0.0  # monotonic
        self.gone: LedgerGone | None = None  # did not answer in time: nothing more starts this pass
        self._probing = asyncio.Lock()  # one worker looks at a lost ledger; the others wait for its word
        self._held: set[tuple[str, int]] = (
            set()
        )  # (conversation, sweep) cut off: lease and decision to settle

    def lost(self, exc: BaseException) -> ReaperError | None:
        """`exc` as the ledger's connection lost (every leaf of it, however a task group wrapped it),
        said in one line naming the ledger without its password; None for any other failure."""
        said = [self._journal.connection_lost(leaf) for leaf in leaves(exc)]
        return said[0] if said and all(said) else None

    def note(self, lost: ReaperError) -> None:
        """The connection is lost: nothing new starts until the ledger answers (`answers`)."""
        if self._lost is None:
            self._lost, self._lost_since = lost, time.monotonic()
            _log.warning(
                "the ledger's connection is lost: nothing new starts until it answers", error=str(lost)
            )

    def cut_off(self, conversation_id: str, sweep_id: int, lost: ReaperError) -> None:
        """`conversation_id`'s act lost the connection while holding its lease (ours): given back later,
        with its decision marked `interrupted` if nothing else will say how it ended."""
        self.note(lost)
        self._held.add((conversation_id, sweep_id))

    async def answers(self) -> bool:
        """True at once while the connection holds. Once lost: True when the ledger answers again (one
        worker looks, every LEDGER_PROBE_EVERY; the others wait for its word), False when it did not
        within LEDGER_WAIT (`gone`: the pass ends) or the pass is stopping."""
        if self._lost is None:
            return True
        async with self._probing:
            while self._lost is not None and self.gone is None and not self._stopping():
                try:
                    await journalled(self._journal.ping)
                except Exception as exc:
                    lost = self.lost(exc)
                    if lost is None:
                        raise
                    if time.monotonic() - self._lost_since >= LEDGER_WAIT:
                        self.gone = LedgerGone(lost, LEDGER_WAIT)
                        _log.error("the ledger did not answer again: the pass ends", error=str(self.gone))
                        break
                    await asyncio.sleep(LEDGER_PROBE_EVERY)
                else:
                    waited = time.monotonic() - self._lost_since
                    _log.info("the ledger answers again: the pass goes on", waited=round(waited, 1))
                    self._lost = None
                    await self.give_back()
            return self._lost is None

    async def give_back(self) -> None:
        """Release the leases of the conversations cut off, their decisions without an outcome marked
        `interrupted` (when the ledger answers again, and at the pass's end); a lease the ledger still
        cannot take runs out by itself (`act_lease`), a decision stays as after a SIGKILL."""
        while self._held:
            cid, sweep_id = held = self._held.pop()
            try:
                await journalled(self._journal.cut_off, cid, self._owner, sweep_id)
            except Exception as exc:  # only tidiness: a lease runs out by itself
                self._held.add(held)
                _log.warning(
                    "leases not given back: they run out by themselves",
                    conversations=len(self._held),
                    error=describe(exc),
                )
                return
