"""What `explain` shows of one conversation, built once for the terminal and the console's JSON.

The conversation as read (with the reaper's own texts known), its verdict at the platform's time,
the plan, and the exact calls that plan makes: the re-check before the first write and again before
an ending step that follows other writes, as `engine/steps.py` carries it out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from session_reaper.config import Settings
from session_reaper.core.model import Conversation
from session_reaper.core.plan import ENDING_STEPS, Step, StepKind, plan
from session_reaper.core.rules import Verdict, evaluate
from session_reaper.engine.own_messages import OwnMessages
from session_reaper.engine.ports import Gone, JournalPort, PlatformPort


@dataclass(frozen=True, slots=True)
class Explanation:
    conversation: Conversation
    now: datetime
    verdict: Verdict
    steps: tuple[Step, ...]

    @property
    def calls(self) -> list[str]:
        return calls(self.conversation.id, self.steps)


async def explain(
    platform: PlatformPort, journal: JournalPort, settings: Settings, conversation_id: str
) -> Explanation | None:
    """The explanation, or None when the platform has no such conversation."""
    try:
        conversation = await platform.read(conversation_id, await OwnMessages(journal).kinds(conversation_id))
    except Gone:
        return None
    now = platform.now()
    verdict = evaluate(conversation, now, settings.policy())
    return Explanation(
        conversation, now, verdict, tuple(plan(conversation, verdict, settings.close_settings()))
    )


def calls(conversation_id: str, steps: Sequence[Step]) -> list[str]:
    """Every request the plan makes, in order, re-checks included; none when there is nothing to do."""
    if not steps:
        return []
    recheck = f"GET /api/v2/conversations/messages/{conversation_id} (re-check: cancel if anything changed)"
    out = [recheck]
    wrote = False
    for step in steps:
        if step.kind in ENDING_STEPS and wrote:
            out.append(recheck)
            wrote = False
        out.append(describe_call(conversation_id, step))
        wrote = wrote or step.kind != StepKind.VERIFY
    return out


def describe_call(conversation_id: str, step: Step) -> str:
    base = f"/api/v2/conversations/messages/{conversation_id}"
    match step.kind:
        case StepKind.ANNOTATE:
            keys = ", ".join(sorted(step.attributes or {}))
            return f"PATCH {base}/participants/{step.participant_id}/attributes ({keys})"
        case StepKind.WARNING_TEXT | StepKind.CLOSING_TEXT:
            return f"POST {base}/communications/{step.communication_id}/messages ({step.kind.value})"
        case StepKind.DISCONNECT_AGENT:
            return f'PATCH {base}/participants/{step.participant_id} {{"state":"disconnected"}}'
        case StepKind.DISCONNECT_CONVERSATION:
            return f'PATCH {base} {{"state":"disconnected"}}'
        case StepKind.TEARDOWN:
            return f"POST /api/v2/conversations/{conversation_id}/disconnect (full teardown)"
        case StepKind.WRAPUP_AGENT:
            participant = f"{base}/participants/{step.participant_id}"
            communication = f"communications/{step.communication_id}"
            return f"POST {participant}/{communication}/wrapup (code {step.wrapup_code})"
        case StepKind.VERIFY:
            return f"GET /api/v2/conversations/{conversation_id} until every participant has ended"
        case other:
            return other.value
