"""The platform's count of an OAuth client, kept in the ledger for the processes that start after.

The platform limits requests per OAuth client across processes and reports its count on every answer;
the pacer (genesys/pacing.py) keeps below it, but a new process knows no count before its first answer
and sends that one blind. A serve SIGKILLed and restarted many times a minute spends one request of the
headroom per life. So serve keeps the last count that mattered in the ledger (`ledger.platform_counts`,
shared by restarts and replicas), and a new runtime seeds its pacer with it before its first request.

- Loaded once, off the loop, before the runtime's first platform request; used while it holds
  (`holds_until` in the future, wall time), capped at one window (a machine clock set wrong must not
  hold a start back for longer than the platform's own count could).
- Seeded with a margin above the saved count: the requests the dead process sent after its last saved
  report were counted by the platform but are in no saved count. They are its requests in flight (at most
  about `concurrency`) and those answered within one save spacing (at most the limit's rate times it).
- Saved only when it matters (the count at half the budget or more: below it a blind first request is
  harmless), coalesced: at most one save in flight, the latest report saved next, and saves at least
  SAVE_SPACING apart — never one write per request.
- A load or save that fails is logged and forgotten: the pacer then learns the count as it always did.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from session_reaper.engine.off_loop import journalled
from session_reaper.genesys.pacing import HEADROOM, PlatformCount
from session_reaper.ledger.platform_counts import PlatformCounts, SavedCount
from session_reaper.telemetry import logs

log = logs.get_logger(component="platform-counts")

SAVE_SPACING = 0.25  # seconds between two saves of one client's count
WINDOW = 60.0  # the platform's window: no count holds longer than this

WallClock = Callable[[], datetime]


def _machine_clock() -> datetime:
    return datetime.now(UTC)


def client_key(api_base: str, client_id: str) -> str:
    """The ledger's name for an OAuth client on one platform: a digest, so that no id is stored."""
    return hashlib.sha256(f"{api_base}\n{client_id}".encode()).hexdigest()


def seed_margin(concurrency: int, allowed: int) -> int:
    """Requests a dead process may have had counted after its last saved report (module docstring)."""
    return concurrency + math.ceil(allowed * SAVE_SPACING / WINDOW)


def _problem(exc: Exception) -> str:
    # the first line only: SQLAlchemy's further lines repeat the statement and its parameters
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


async def load_known_count(
    counts: PlatformCounts, client: str, *, concurrency: int, now: WallClock = _machine_clock
) -> PlatformCount | None:
    """The saved count of `client` while it still holds, with the margin, `reset` from now; else None."""
    try:
        saved = await journalled(counts.load, client)
    except Exception as exc:  # the ledger's trouble is the pacer's old way, not a failed start
        log.warning("platform count not read from the ledger: pacing learns it", error=_problem(exc))
        return None
    if saved is None:
        return None
    remaining = (saved.holds_until - now()).total_seconds()
    if remaining <= 0 or saved.allowed < 1:
        return None
    margin = seed_margin(concurrency, saved.allowed)
    log.info(
        "pacing on the platform count saved before this start",
        count=saved.count,
        allowed=saved.allowed,
        margin=margin,
        holds_seconds=round(min(remaining, WINDOW), 3),
    )
    return PlatformCount(saved.allowed, saved.count + margin, min(remaining, WINDOW))


class CountKeeper:
    """Saves the reported counts that matter for one client (`observe` is `PlatformHttp`'s `on_count`)."""

    def __init__(
        self,
        counts: PlatformCounts,
        client: str,
        *,
        now: WallClock = _machine_clock,
        monotonic: Callable[[], float] = time.monotonic,
        spacing: float = SAVE_SPACING,
    ) -> None:
        self._counts = counts
        self._client = client
        self._now = now
        self._monotonic = monotonic
        self._spacing = spacing
        self._latest: SavedCount | None = None
        self._task: asyncio.Task[None] | None = None
        self._next_save = 0.0  # monotonic: no save starts before
        self._failing = False
        self.saves = 0  # writes done (tests, and a check that it is not one per request)

    def observe(self, reported: PlatformCount) -> None:
        """One answer's count, on the loop: remembered if it matters, saved soon by one task."""
        if reported.count * 2 < max(1, math.floor(reported.allowed * HEADROOM)):
            return  # below half the budget: a new process's blind first request is harmless
        seen = self._now()
        self._latest = SavedCount(
            reported.allowed, reported.count, seen + timedelta(seconds=max(0.0, reported.reset)), seen
        )
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._save_latest(), name="platform-count")

    async def _save_latest(self) -> None:
        while self._latest is not None:
            wait = self._next_save - self._monotonic()
            if wait > 0:
                await asyncio.sleep(wait)  # the reports that come meanwhile replace each other
            await self._save_one()
            self._next_save = self._monotonic() + self._spacing

    async def _save_one(self) -> None:
        saved, self._latest = self._latest, None
        if saved is None:
            return
        try:
            await journalled(self._counts.save, self._client, saved)
        except Exception as exc:  # never stops the service; one line per streak of failures
            if not self._failing:
                log.warning("platform count not saved to the ledger", error=_problem(exc))
            self._failing = True
            return
        self.saves += 1
        if self._failing:
            log.info("platform count saved to the ledger again")
        self._failing = False

    async def aclose(self) -> None:
        """Stop saving; the latest count not yet saved is saved now (a clean stop's successor knows it)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._save_one()
