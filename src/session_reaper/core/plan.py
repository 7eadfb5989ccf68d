"""From a verdict to the ordered steps that carry it out: pure, and safe to carry out twice.

The plan says *what* to send, never *how* (that is the executor's). Each step is idempotent by
construction, so a crash and a resume never do anything twice in effect:
- ``annotate`` writes the same values again (they come from the verdict, not from a clock);
- a text is sent at most once per closing cycle (the ledger remembers it, the executor checks);
- a disconnect of a participant or conversation that has already ended is "already done";
- ``wrapup:agent`` is never sent over a wrap-up someone already applied;
- ``verify`` only reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from session_reaper.core.model import Conversation
from session_reaper.core.rules import ANNOTATION_KEYS, Action, Verdict, text_channel

# Rules whose close disconnects the lingering agent(s) only (every one still attached: connected,
# parked or offered); the others end the whole conversation.
_AGENT_CLOSES = frozenset({"idle", "customer-left", "parked"})


class StepKind(StrEnum):
    """The values are the JSON ``steps`` names."""

    WARNING_TEXT = "warning-text"
    ANNOTATE = "annotate"
    CLOSING_TEXT = "closing-text"
    DISCONNECT_AGENT = "disconnect:agent"
    DISCONNECT_CONVERSATION = "disconnect:conversation"
    TEARDOWN = "teardown"
    WRAPUP_AGENT = "wrapup:agent"
    VERIFY = "verify"


# Steps that end something: the last chance to notice a person is still there comes right before them.
ENDING_STEPS = frozenset({StepKind.DISCONNECT_AGENT, StepKind.DISCONNECT_CONVERSATION, StepKind.TEARDOWN})


@dataclass(frozen=True, slots=True)
class CloseSettings:
    """How to close ([close] in the TOML file; built by ``config.Settings.close_settings()``)."""

    warn_before: timedelta = timedelta(0)
    warning_text: str = "Are you still there? This chat will close soon if we don't hear from you."
    closing_text: str = (
        "This chat was closed because it was inactive. Send a new message any time to start again."
    )
    wrapup_code: str = ""
    wrapup_notes: str = "Closed by session-reaper: {rule}"
    annotate: bool = True
    allow_teardown: bool = True


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    participant_id: str | None = None
    communication_id: str | None = None
    text: str | None = None
    attributes: Mapping[str, str] | None = None
    wrapup_code: str | None = None
    wrapup_notes: str | None = None


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def annotation(verdict: Verdict) -> Mapping[str, str]:
    """What is recorded on the customer participant: rule, reason, time. Never message text or secrets."""
    values = {ANNOTATION_KEYS[0]: verdict.rule or "", ANNOTATION_KEYS[1]: verdict.reason}
    if verdict.decided_at is not None:
        values[ANNOTATION_KEYS[2]] = _iso(verdict.decided_at)
    return values


def _annotate(conversation: Conversation, verdict: Verdict, close: CloseSettings) -> tuple[Step, ...]:
    customer = conversation.customer
    if not close.annotate or customer is None:
        return ()
    return (Step(StepKind.ANNOTATE, participant_id=customer.id, attributes=annotation(verdict)),)


def _text(kind: StepKind, conversation: Conversation, verdict: Verdict, text: str) -> tuple[Step, ...]:
    channel = text_channel(conversation, verdict.targets)
    if channel is None or not text:
        return ()
    return (Step(kind, participant_id=channel.id, communication_id=channel.communication_id, text=text),)


def _close(conversation: Conversation, verdict: Verdict, close: CloseSettings) -> tuple[Step, ...]:
    annotate = _annotate(conversation, verdict, close)
    if verdict.rule in _AGENT_CLOSES and verdict.targets:
        texts = _text(StepKind.CLOSING_TEXT, conversation, verdict, close.closing_text)
        disconnects = tuple(Step(StepKind.DISCONNECT_AGENT, participant_id=pid) for pid in verdict.targets)
        return (*annotate, *texts, *disconnects, Step(StepKind.VERIFY))
    return (*annotate, Step(StepKind.DISCONNECT_CONVERSATION), Step(StepKind.VERIFY))


def _teardown(conversation: Conversation, verdict: Verdict, close: CloseSettings) -> tuple[Step, ...]:
    if not close.allow_teardown:
        return ()  # the rules skip it already; this is the belt to their braces
    return (*_annotate(conversation, verdict, close), Step(StepKind.TEARDOWN), Step(StepKind.VERIFY))


def _wrapup(conversation: Conversation, verdict: Verdict, close: CloseSettings) -> tuple[Step, ...]:
    if not close.wrapup_code:
        return ()  # the rules skip it already ("no wrapup_code configured")
    notes = close.wrapup_notes.format(rule=verdict.rule or "")
    steps = []
    for participant_id in verdict.targets:
        agent = conversation.participant(participant_id)
        if agent is None or not agent.in_after_call_work:
            continue  # someone applied a wrap-up meanwhile: never overwrite it
        steps.append(
            Step(
                StepKind.WRAPUP_AGENT,
                participant_id=agent.id,
                communication_id=agent.communication_id,
                wrapup_code=close.wrapup_code,
                wrapup_notes=notes,
            )
        )
    return tuple(steps)


def plan(conversation: Conversation, verdict: Verdict, close: CloseSettings) -> tuple[Step, ...]:
    """The steps for `verdict`, in order; empty when there is nothing to do (skip, defer)."""
    match verdict.action:
        case Action.WARN:
            return _text(StepKind.WARNING_TEXT, conversation, verdict, close.warning_text)
        case Action.CLOSE:
            return _close(conversation, verdict, close)
        case Action.TEARDOWN:
            return _teardown(conversation, verdict, close)
        case Action.WRAPUP:
            return _wrapup(conversation, verdict, close)
        case _:
            return ()


def escalate(step: Step, allow_teardown: bool) -> Step | None:
    """One level wider when a disconnect did not take: agent -> conversation -> teardown -> give up."""
    match step.kind:
        case StepKind.DISCONNECT_AGENT:
            return Step(StepKind.DISCONNECT_CONVERSATION)
        case StepKind.DISCONNECT_CONVERSATION:
            return Step(StepKind.TEARDOWN) if allow_teardown else None
        case _:
            return None
