"""Decisions that wait for an operator: a rule with `approval = true` pends instead of acting.

A pending decision is one per conversation while it waits; it ends `approved` (then re-checked and
carried out through the engine), `rejected` (never acted on for that decision) or `expired`
(nobody answered within `[console] approval_ttl`). Pure data; the ledger keeps them, shared by replicas.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PendingDecision:
    decision_id: str  # random, unguessable: it is what the console's approve button names
    conversation_id: str
    rule: str | None
    decision: str  # the action it waits to take: close, warn, teardown, wrapup
    reason: str
    queue_id: str | None
    created_at: datetime
    expires_at: datetime
    status: str  # core.vocabulary.APPROVAL_STATUSES
    operator: str | None = None  # who approved or rejected it
    resolved_at: datetime | None = None
    outcome: str | None = None  # what became of an approved one (done, cancelled, failed, ...)
    org: str | None = None  # the `[orgs.NAME]` it was made for (None: the one unnamed organization)

    def waiting(self, now: datetime) -> bool:
        return self.status == "pending" and now < self.expires_at

    def status_at(self, now: datetime) -> str:
        """Its status as of `now`: a pending decision past its expiry is expired, stored or not."""
        return "expired" if self.status == "pending" and now >= self.expires_at else self.status
