"""The live view: the latest word on every conversation in scope, as the sweeps (or events) reconcile it.

Fed by `Service`'s hook with each `Reconciled` (the conversation as read, the verdict, the line), it
keeps what a supervisor needs to see: who is connected, which rule applies and why, when it becomes
eligible, what would be done, and whether a decision waits for approval. A conversation that ended
or left scope drops out when a pass no longer finds it (`retain`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from session_reaper.core.model import Conversation
from session_reaper.core.plan import CloseSettings, plan
from session_reaper.core.recheck import is_exempt
from session_reaper.core.results import DecisionLine, Outcome
from session_reaper.core.rules import Policy, Verdict, close_now, evaluate
from session_reaper.core.vocabulary import CLOSING_DECISIONS
from session_reaper.engine.reconcile import Reconciled


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def would_do(
    conversation: Conversation, verdict: Verdict, now: datetime, policy: Policy, close: CloseSettings
) -> list[str]:
    """The steps of the verdict's action; for one not yet due, those a close now would take."""
    if not verdict.acts:
        if verdict.rule is None:
            return []
        verdict = evaluate(conversation, now, close_now(policy))
        if not verdict.acts:
            return []
    return [step.kind.value for step in plan(conversation, verdict, close)]


@dataclass
class Entry:
    """One conversation as last reconciled."""

    line: DecisionLine
    verdict: Verdict | None
    conversation: Conversation | None
    seen_at: datetime  # platform time
    would_do: list[str] = field(default_factory=list)
    exempt: bool = False
    pending_id: str | None = None

    @property
    def queue_id(self) -> str | None:
        if self.line.queue_id:
            return self.line.queue_id
        if self.conversation is not None and self.conversation.queue_ids:
            return sorted(self.conversation.queue_ids)[0]
        return None

    def to_json(self, now: datetime, queue_names: dict[str, str]) -> dict[str, Any]:
        eligible_at = self.verdict.eligible_at if self.verdict is not None else None
        if self.verdict is not None and self.verdict.acts:
            seconds: float | None = 0.0  # eligible now
        elif eligible_at is not None:
            seconds = max(0.0, (eligible_at - now).total_seconds())
        else:
            seconds = None
        participants = [] if self.conversation is None else self.conversation.participants
        queue_id = self.queue_id
        return {
            "conversationId": self.line.conversation_id,
            "queueId": queue_id,
            "queueName": queue_names.get(queue_id) if queue_id else None,
            "rule": self.line.rule,
            "decision": self.line.decision,
            "outcome": self.line.outcome.value,
            "reason": self.line.reason,
            "eligibleAt": iso(eligible_at),
            "secondsUntilEligible": seconds,
            "participants": [
                {"id": p.id, "purpose": p.purpose or p.role.value, "state": p.state, "name": p.name}
                for p in participants
            ],
            "wouldDo": list(self.would_do),
            "exempt": self.exempt,
            "pendingDecisionId": self.pending_id,
            "seenAt": iso(self.seen_at),
        }


class LiveView:
    """The latest entry per conversation; shared by the sweep loop and the HTTP handlers (a lock)."""

    def __init__(self, policy: Policy, close: CloseSettings) -> None:
        self.policy = policy
        self.close = close
        self._entries: dict[str, Entry] = {}
        self._lock = threading.Lock()

    def entry(self, done: Reconciled) -> Entry:
        conversation, verdict = done.conversation, done.verdict
        steps: list[str] = []
        exempt = False
        if conversation is not None and verdict is not None:
            steps = would_do(conversation, verdict, done.now, self.policy, self.close)
            exempt = any(is_exempt(p, self.policy.exempt_attribute) for p in conversation.participants)
        pending = done.pending.decision_id if done.pending is not None else None
        return Entry(done.line, verdict, conversation, done.now, steps, exempt, pending)

    def update(self, done: Reconciled) -> None:
        entry = self.entry(done)
        cid, line = done.line.conversation_id, done.line
        with self._lock:
            previous = self._entries.get(cid)
            if done.conversation is None and line.outcome is Outcome.FAILED and previous is not None:
                previous.line = line  # could not be read this time: keep what was known, say so
            elif done.conversation is None or done.conversation.ended or _ended_it(line):
                self._entries.pop(cid, None)  # gone, ended, or just closed: nothing left to supervise
            else:
                self._entries[cid] = entry

    def retain(self, in_scope: set[str]) -> None:
        """After a whole pass: only what it found (read, or held back by the read schedule) stays."""
        with self._lock:
            self._entries = {k: v for k, v in self._entries.items() if k in in_scope}

    def get(self, conversation_id: str) -> Entry | None:
        with self._lock:
            return self._entries.get(conversation_id)

    def entries(self) -> list[Entry]:
        with self._lock:
            return sorted(self._entries.values(), key=order)


def _ended_it(line: DecisionLine) -> bool:
    return line.outcome is Outcome.DONE and line.decision in CLOSING_DECISIONS


def order(entry: Entry) -> tuple[int, float, str]:
    """Eligible first, then by time until eligible, then the rest; the id breaks ties."""
    verdict = entry.verdict
    if verdict is not None and verdict.acts:
        return (0, 0.0, entry.line.conversation_id)
    if verdict is not None and verdict.eligible_at is not None:
        return (1, verdict.eligible_at.timestamp(), entry.line.conversation_id)
    return (2, 0.0, entry.line.conversation_id)
