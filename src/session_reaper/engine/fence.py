"""The fence around each attempt of a step's request: the lease held again and the attempt marked on its way.

Apart from `steps.py` (which calls `fence` for each write it sends) so that each reads in one sitting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from session_reaper.engine.leasing import acquire, act_lease
from session_reaper.engine.off_loop import journalled
from session_reaper.engine.ports import Guard
from session_reaper.errors import ReaperError

if TYPE_CHECKING:
    from session_reaper.engine.reconcile import Engine


class StepFailed(ReaperError):
    """A step could not be carried out; the conversation's outcome is `failed`."""


def fence(engine: Engine, conversation_id: str, step_id: int) -> Guard:
    """What is checked before each attempt of the step's request (a retry after a 503 or a 429 too).

    A step's request may be retried for minutes (backoff, `Retry-After`), long past the act's lease:
    another look (an event's re-check, a sweep, another replica) may then take the conversation, settle
    this very step as "not sent" and act again, and the retry would do it a second time (the events
    smoke's double teardown: a sweep's teardown retried through a 503 storm while a re-check tore the
    conversation down too). So before each attempt the act holds the conversation's lease again and
    marks the step as on its way until the attempt may still land (wall time: what a request takes is
    wall time, whatever the platform's clock); recovery does not call the step "not sent" before then,
    and a step another look settled meanwhile is never sent.
    """
    return _Fence(engine, conversation_id, step_id, engine.platform.in_flight_allowance())


@dataclass
class _Fence:
    engine: Engine
    conversation_id: str
    step_id: int
    allowance: timedelta

    async def before_attempt(self) -> None:
        engine, journal = self.engine, self.engine.journal
        now = engine.platform.reached()
        ttl = act_lease(engine.verify_timeout)
        # The lease held again and the mark taken in one round trip, as late as can be before sending.
        until = datetime.now(UTC) + self.allowance
        attempt = await journalled(
            journal.step_attempt,
            self.step_id,
            self.conversation_id,
            engine.owner,
            ttl=ttl,
            now=now,
            until=until,
        )
        if attempt == "not-held":
            # Held by another owner: perhaps one known dead (a killed process on this host), taken over.
            if not await acquire(journal, self.conversation_id, engine.owner, ttl=ttl, now=now):
                raise StepFailed(
                    "another reaper took the conversation while this step waited to be sent again"
                )
            until = datetime.now(UTC) + self.allowance
            attempt = (
                "sending" if await journalled(journal.step_sending, self.step_id, until=until) else "settled"
            )
        if attempt == "settled":
            raise StepFailed("another look settled this step while it waited to be sent again: not sent")

    async def answered(self) -> None:
        # An answer came (a 503 or 429 to retry after, or the outcome): nothing is on its way during the
        # backoff, so an act stopped then leaves a step recovery may settle at once from the platform.
        await journalled(self.engine.journal.step_sending, self.step_id, until=None)
