"""What the report needs, recorded when the reaper acts: how long a conversation was idle, its queue's name.

The report is drawn from the ledger alone (`report --html` and the demo alike), so every figure it
charts must be journalled while acting: the idle time goes into the decision row (`idle_seconds`,
beside `threshold_seconds`: their difference is the reaction delay past the threshold), and each queue
acted in is read once from `GET /api/v2/routing/queues/{id}` into the ledger's `queues` table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from session_reaper.core.model import Conversation
from session_reaper.core.results import DecisionLine
from session_reaper.core.rules import Verdict
from session_reaper.engine.off_loop import journalled
from session_reaper.engine.ports import JournalPort, PlatformError, PlatformPort
from session_reaper.telemetry import logs

_log = logs.get_logger()


async def journal_line(
    journal: JournalPort,
    sweep_id: int,
    line: DecisionLine,
    verdict: Verdict | None,
    now: datetime,
    log: Any,
    **context: str,
) -> None:
    """Stamp, journal and log one conversation's line: what a sweep and the events' re-checks both emit.

    Acted-on conversations were journalled before acting (`decision_id` set); the rest is journalled
    in bulk. `context` is added to the log line (e.g. the trigger).
    """
    if line.decided_at is None:
        line.decided_at = now
    threshold = verdict.threshold if verdict is not None else None
    if line.decision_id is None:
        await journalled(
            journal.buffer_decision,
            sweep_id,
            line.conversation_id,
            rule=line.rule,
            decision=line.decision,
            outcome=line.outcome.value,
            reason=line.reason,
            threshold_seconds=threshold.total_seconds() if threshold else None,
            queue_id=line.queue_id,
            channel=line.channel,
            platform_now=now,
        )
    log_line = log.info if line.decision not in ("skip", "defer") else log.debug
    log_line(
        "decided",
        **context,
        rule=line.rule,
        decision=line.decision,
        outcome=line.outcome.value,
        reason=line.reason,
        steps=line.steps,
        error=line.error,
    )


def idle_seconds(conversation: Conversation, now: datetime) -> float | None:
    """Seconds since the last message of a person or a bot (the reaper's own texts never count), else
    since the conversation started; None when neither is known."""
    last = conversation.last_activity
    since = last.at if last is not None else conversation.started_at
    return None if since is None else max(0.0, (now - since).total_seconds())


class QueueNames:
    """Reads each queue's name at most once into the ledger; a read that fails never fails the sweep.

    403 and 404 are final (the id is shown instead, and the queue is not read again); any other error
    (5xx, timeout) is retried by a later sweep.
    """

    def __init__(self, platform: PlatformPort, journal: JournalPort) -> None:
        self.platform = platform
        self.journal = journal
        self._known: set[str] | None = None

    async def remember(self, queue_id: str | None) -> None:
        if not queue_id:
            return
        if self._known is None:
            known = await journalled(self.journal.known_queues)
            if self._known is None:  # another act may have loaded them while this one waited
                self._known = known
        if queue_id in self._known:
            return
        self._known.add(queue_id)  # once per sweep even when the read fails
        try:
            name, refused = await self.platform.queue_name(queue_id)
        except PlatformError as exc:
            _log.info("queue name not read", queue_id=queue_id, status=exc.status)
            return
        await journalled(self.journal.record_queue, queue_id, name, status=refused)
