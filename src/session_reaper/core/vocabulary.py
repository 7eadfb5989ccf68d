"""The journal's words, defined once from the core's enums: actions, outcomes, step kinds, and the
reaper's own texts (the step that sends one, the word the journal keeps, the activity kind it is).

The ledger checks its writes against these sets, the engine maps its texts with them, the report
counts with them. The rules' own catalog (names, order, defaults, clocks) is `rules.RULES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from session_reaper.core.model import ActivityKind
from session_reaper.core.plan import StepKind
from session_reaper.core.results import Outcome
from session_reaper.core.rules import Action

# `pending`: a rule with `approval = true` decided to act; it waits for an operator (the console).
PENDING = "pending"
ACTIONS = frozenset({*(a.value for a in Action), PENDING})
# What became of a pending decision; only `pending` ones may still be approved.
APPROVAL_STATUSES = frozenset({"pending", "approved", "rejected", "expired"})
# `interrupted`: a decision whose step a killed reaper left half-done, settled by recovery.
DECISION_OUTCOMES = frozenset({*(o.value for o in Outcome), "interrupted"})
STEP_OUTCOMES = frozenset(
    {
        "done",
        "already-done",  # the platform said the effect was already there (e.g. participant gone)
        "failed",
        "cancelled",
        "resolved-on-recovery",  # generic: found open after a crash and settled by reading the platform
        "resolved-done",  # found open after a crash; the platform shows its effect
        "resolved-not-sent",  # found open after a crash; the platform shows no effect: it never arrived
        "resolved-gone",  # found open after a crash; the conversation no longer exists
    }
)
# Outcomes that mean "the step's effect is in place": a restarted sweep must not send it again.
EFFECTIVE_STEP_OUTCOMES = frozenset({"done", "already-done", "resolved-done"})
CLOSING_DECISIONS = (Action.CLOSE.value, Action.TEARDOWN.value)
# Decisions that changed nothing on the platform: the bulk of the journal, and what `prune` may drop.
INACTION_OUTCOMES = (Outcome.SKIPPED.value, Outcome.DEFERRED.value, Outcome.DRY_RUN.value)

# ---- the reaper's own texts: the step that sends one, the journal's word for it, its activity kind


class MessageKind(StrEnum):
    WARNING = "warning"
    CLOSING = "closing"


MESSAGE_KINDS = frozenset(k.value for k in MessageKind)
TEXT_STEPS: Mapping[StepKind, MessageKind] = MappingProxyType(
    {StepKind.WARNING_TEXT: MessageKind.WARNING, StepKind.CLOSING_TEXT: MessageKind.CLOSING}
)
OWN_ACTIVITY: Mapping[str, ActivityKind] = MappingProxyType(
    {MessageKind.WARNING: ActivityKind.REAPER_WARNING, MessageKind.CLOSING: ActivityKind.REAPER_CLOSING}
)


def own_activity(message_kind: str) -> ActivityKind:
    """The activity kind of a text the reaper sent; an unknown journal word counts as a closing text
    (it is never a customer's or an agent's message, which is all that matters to the clocks)."""
    return OWN_ACTIVITY.get(message_kind, ActivityKind.REAPER_CLOSING)
