"""What the events mode tells its host (`serve`'s metrics, a benchmark); how one of its lines is emitted."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from session_reaper.core.results import DecisionLine, Summary
from session_reaper.engine.ports import JournalPort
from session_reaper.engine.reconcile import Reconciled
from session_reaper.telemetry import logs

_log = logs.get_logger(component="watch")


class WatchHooks(Protocol):
    def event(self, topic: str, lag_seconds: float | None) -> None:
        """An event was received; `lag_seconds`: its change's platform time -> handled, when it moved time."""

    def ignored(self, topic: str) -> None: ...

    def connected(self, reconnect: bool) -> None: ...

    def disconnected(self, reason: str) -> None: ...

    def fallback(self, rejected: Mapping[str, str]) -> None:
        """The queues polled instead (their topic was rejected), with the platform's reason."""

    def armed(self, timers: int) -> None: ...


class NoHooks:
    def event(self, topic: str, lag_seconds: float | None) -> None:
        pass

    def ignored(self, topic: str) -> None:
        pass

    def connected(self, reconnect: bool) -> None:
        pass

    def disconnected(self, reason: str) -> None:
        pass

    def fallback(self, rejected: Mapping[str, str]) -> None:
        pass

    def armed(self, timers: int) -> None:
        pass


def emit(
    journal: JournalPort,
    sweep_id: int,
    summary: Summary,
    done: Reconciled,
    on_line: Callable[[DecisionLine], None] | None,
) -> None:
    """Journal (in bulk, unless journalled before acting), log, count and hand on one re-check's line."""
    line, verdict = done.line, done.verdict
    if line.decided_at is None:
        line.decided_at = done.now
    threshold = verdict.threshold if verdict is not None else None
    if line.decision_id is None:
        journal.buffer_decision(
            sweep_id,
            line.conversation_id,
            rule=line.rule,
            decision=line.decision,
            outcome=line.outcome.value,
            reason=line.reason,
            threshold_seconds=threshold.total_seconds() if threshold else None,
            queue_id=line.queue_id,
            channel=line.channel,
            platform_now=done.now,
        )
    log_line = _log.info if line.decision not in ("skip", "defer") else _log.debug
    log_line(
        "decided",
        trigger=done.trigger.value,
        rule=line.rule,
        decision=line.decision,
        outcome=line.outcome.value,
        reason=line.reason,
        steps=line.steps,
        error=line.error,
    )
    summary.count(line)
    if on_line is not None:
        on_line(line)
