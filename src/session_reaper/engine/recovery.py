"""Resolve steps left half-done — by a killed reaper, a lost ledger, or an answer that never came (a
timeout after the request left): read the platform, never repeat blindly.

A step whose intent is journalled but whose outcome is not may or may not have reached the platform.
The conversation as it stands now says which: the step is then closed as done (its effect is visible)
or as not sent (the conversation is decided afresh by the sweep that follows).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from session_reaper.core.model import Conversation, PendingStep, Role
from session_reaper.core.plan import StepKind
from session_reaper.core.vocabulary import TEXT_STEPS, own_activity
from session_reaper.engine.leasing import acquire
from session_reaper.engine.off_loop import journalled
from session_reaper.engine.own_messages import OwnMessages
from session_reaper.engine.ports import (
    Gone,
    JournalPort,
    PlatformError,
    PlatformPort,
    Refused,
)
from session_reaper.telemetry import logs

RECOVERY_LEASE = timedelta(minutes=2)

_log = logs.get_logger()


def effect_visible(
    kind: str,
    participant_id: str | None,
    conversation: Conversation,
    intent_at: datetime,
    known_messages: set[str],
) -> str | None:
    """The step's effect as the platform shows it: the message id adopted, "yes", or None (not there)."""
    match kind:
        case "disconnect:agent":
            participant = conversation.participant(participant_id or "")
            return "yes" if participant is None or participant.ended else None
        case "disconnect:conversation" | "teardown":
            return "yes" if all(p.ended for p in conversation.participants) else None
        case "annotate":
            participant = conversation.participant(participant_id or "")
            return "yes" if participant is not None and "reaper.rule" in participant.attributes else None
        case "wrapup:agent":
            participant = conversation.participant(participant_id or "")
            return "yes" if participant is None or participant.wrapup is not None else None
        case "warning-text" | "closing-text":
            own_kind = own_activity(TEXT_STEPS[StepKind(kind)])
            later = [a for a in conversation.activities if a.at >= intent_at]
            if any(a.kind is own_kind for a in later):
                return "yes"  # sent, and its id journalled before the process died
            for activity in later:
                if (
                    activity.role is Role.AGENT
                    and activity.message_id
                    and activity.message_id not in known_messages
                ):
                    return activity.message_id  # sent, but its id never reached the journal: adopt it
            return None
        case _:
            return "yes"


async def recover_pending(
    platform: PlatformPort,
    ledger: JournalPort,
    own: OwnMessages,
    *,
    owner: str,
    settled: set[str] | None = None,
) -> frozenset[str]:
    """Resolve every open intent whose conversation no live reaper holds.

    Returns the conversations whose intent could not be settled because the platform could not be
    read for them (5xx storm, timeouts, an unreadable answer): their intent stays open for the next
    pass, and nothing may be done on them until it is settled, or a step might be sent twice. One
    conversation's trouble never stops the recovery of the others, nor the pass. The conversations
    whose intents it settled are added to `settled`: an interrupted close must be decided again now.
    """
    unsettled: set[str] = set()
    for pending in await journalled(ledger.pending_steps):
        if pending.conversation_id in unsettled:
            continue
        now = platform.now()
        if not await acquire(ledger, pending.conversation_id, owner, ttl=RECOVERY_LEASE, now=now):
            continue  # another replica holds it and may still be sending this very step
        try:
            if not await _settle(platform, ledger, own, pending):
                unsettled.add(pending.conversation_id)
            elif settled is not None:
                settled.add(pending.conversation_id)
        finally:
            await journalled(ledger.release, pending.conversation_id, owner)
    return frozenset(unsettled)


async def recover_one(
    platform: PlatformPort, ledger: JournalPort, own: OwnMessages, conversation_id: str, *, owner: str
) -> Literal["none", "settled", "held", "unreadable"]:
    """`recover_pending` for one conversation, before it is decided outside a sweep's recovery.

    An event's re-check, a console's act and a pass over named conversations (`--only`, `--plan`) come
    between two recoveries: an intent a dead reaper left, or one left open on purpose (an answer that
    may hide a success), would make the reaper's own unrecorded text look like someone's activity, or
    be sent a second time. "none": nothing open (one small query); "settled"; "held": another live
    reaper holds the conversation; "unreadable": the platform could not be read, or a request may still
    land. Nothing may be done on the conversation in the last two cases.
    """
    if not await journalled(ledger.pending_steps, conversation_id=conversation_id):
        return "none"
    if not await acquire(ledger, conversation_id, owner, ttl=RECOVERY_LEASE, now=platform.now()):
        return "held"
    try:
        settled = await settle_before_acting(platform, ledger, own, conversation_id)
        return "unreadable" if settled is False else "settled"
    finally:
        await journalled(ledger.release, conversation_id, owner)


async def settle_before_acting(
    platform: PlatformPort,
    ledger: JournalPort,
    own: OwnMessages,
    conversation_id: str,
    open_steps: Sequence[PendingStep] | None = None,
) -> bool | None:
    """Settle one conversation's open intents before acting on it; the caller holds its lease.

    Every act goes through here, whatever triggered it: a pass over named conversations (`--only`,
    `--plan`) runs no recovery, an event's re-check comes between two reconciliations, and an intent
    left open on purpose (an answer that may hide a success) or by a replica that died would otherwise
    be sent a second time. None: nothing was open (one small query); True: something was open and is
    settled now, so what was read before may be out of date (decide again); False: the platform could
    not be read, the intent stays open and nothing may be done. `open_steps`: the conversation's open
    intents as the caller just read them from the journal (`conversation_steps`), else read here.
    """
    if open_steps is None:
        open_steps = await journalled(ledger.pending_steps, conversation_id=conversation_id)
    if not open_steps:
        return None
    for pending in open_steps:
        if not await _settle(platform, ledger, own, pending):
            return False
    return True


async def _settle(
    platform: PlatformPort, ledger: JournalPort, own: OwnMessages, pending: PendingStep
) -> bool:
    """Settle one open intent from what the platform shows; False when the platform could not be read,
    or when the step's request may still be on its way (its act alive and retrying, or a process that
    died while it was in flight): "not there" would then be read as "not sent" too soon."""
    cid = pending.conversation_id
    # The journal, not this process's copy, says which texts are the reaper's: a text whose id another
    # process journalled (a replica, or this one before a SIGKILL) after the copy was loaded would be a
    # stranger's to the read and the journal's to the search for one to adopt, so neither: "not sent",
    # and a second text (run S). The copy learns them too, for the decision taken next.
    known = await journalled(ledger.reaper_messages, cid)
    for message_id, kind in known.items():
        own.add(cid, message_id, kind)
    try:
        conversation = await platform.read(cid, {mid: own_activity(kind) for mid, kind in known.items()})
    except Gone:
        await journalled(ledger.step_outcome, pending.step_id, "resolved-gone")
        return True
    except Refused:
        raise
    except PlatformError as exc:
        _log.warning("interrupted step not settled", conversation_id=cid, error=str(exc))
        return False
    seen = effect_visible(pending.kind, pending.participant_id, conversation, pending.intent_at, set(known))
    if seen is None and pending.in_flight_until is not None and datetime.now(UTC) < pending.in_flight_until:
        # Not there, but marked on its way by its act before its latest attempt, in wall time and in the
        # journal (known to any process): the act may be retrying it now (past its lease), or a process
        # that died meanwhile may have left it in flight. Settled at a later look.
        _log.info(
            "interrupted step not settled yet: its request may still be on its way", conversation_id=cid
        )
        return False
    if seen is None and platform.may_still_land(cid):
        # Not there yet, but the request may still be on its way (its answer never came): "not sent"
        # now would send a second text when it lands. Settled at a later look.
        _log.info(
            "interrupted step not settled yet: its request may still be carried out", conversation_id=cid
        )
        return False
    if seen is not None and pending.kind in ("warning-text", "closing-text") and seen != "yes":
        kind = TEXT_STEPS[StepKind(pending.kind)].value
        await journalled(ledger.record_reaper_message, cid, seen, kind)
        own.add(cid, seen, kind)  # the decision taken next knows it for the reaper's own text
    outcome = "resolved-not-sent" if seen is None else "resolved-done"
    # Only if no attempt was marked on its way since it was read: else its act is alive and sending.
    settled = await journalled(
        ledger.step_settled, pending.step_id, outcome, in_flight_until=pending.in_flight_until
    )
    if not settled:
        _log.info("interrupted step not settled: its act sent it again meanwhile", conversation_id=cid)
        return False
    await journalled(ledger.set_decision_outcome, pending.decision_id, "interrupted")
    return True
