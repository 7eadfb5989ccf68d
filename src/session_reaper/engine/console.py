"""What a person asks for in the console, through the same engine as a sweep: close now, exempt, approve.

Each is `reconcile(engine, id, Trigger.CONSOLE, ...)` (read, decide, lease, journal, re-check, act,
verify) or one platform write, journalled with the operator's name: the decision row names who
asked, and `record_console_action` keeps who did what when (the report lists it).

- close now: decided under `rules.close_now(policy)` (every rule applies at once; the guards still
  hold: an exempt or ended conversation is not closed);
- exempt / lift: the `[sweep] exempt_attribute` participant attribute on the customer participant,
  written with the same attributes PATCH as the annotation;
- approve: the pending decision's rule and action must still be the fresh verdict's (else
  `cancelled`, never forced); reject: that decision is never acted on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from session_reaper.core.approvals import PendingDecision
from session_reaper.core.model import Conversation, Role
from session_reaper.core.results import Outcome, Summary
from session_reaper.core.rules import close_now as close_now_policy
from session_reaper.engine.limits import Caps
from session_reaper.engine.off_loop import journalled
from session_reaper.engine.ports import Gone
from session_reaper.engine.reconcile import Engine, Reconciled, Trigger, reconcile
from session_reaper.engine.selection import PlannedAction, ReviewedPlan, Selection
from session_reaper.errors import EXIT_USAGE, ReaperError


class ConsoleRefused(ReaperError):
    """What the operator asked cannot be done (no such conversation, no customer participant)."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Approval:
    pending: PendingDecision
    status: str  # approved, rejected, expired (or approved earlier: what it is now)
    done: Reconciled | None = None  # the engine's work, when approved now


def _engine(base: Engine, owner: str) -> Engine:
    """A fresh engine for one console request: its own reaper texts read from the journal."""
    base.journal.clock = base.platform.now  # journal times are the platform's, as in a sweep
    return Engine(base.platform, base.journal, base.settings, owner, turns=base.turns)


def _caps(engine: Engine) -> Caps:
    return Caps(engine.settings.sweep.max_closes, engine.settings.sweep.max_teardowns)


async def _reconcile(
    engine: Engine, conversation_id: str, operator: str, selection: Selection | None = None
) -> Reconciled:
    journal = engine.journal
    sweep_id = await journalled(journal.start_sweep, True, owner=engine.owner)
    requests_before = engine.platform.requests_made
    summary = Summary()
    try:
        done = await reconcile(
            engine,
            conversation_id,
            Trigger.CONSOLE,
            sweep_id=sweep_id,
            apply=True,
            caps=_caps(engine),
            selection=selection if selection is not None else Selection(only=(conversation_id,)),
            operator=operator,
        )
        if done.emit and done.line.decision_id is None:  # not acted on: journal it like a sweep would
            line = done.line
            await journalled(
                journal.buffer_decision,
                sweep_id,
                conversation_id,
                decision=line.decision,
                outcome=line.outcome.value,
                rule=line.rule,
                reason=line.reason,
                queue_id=line.queue_id,
                channel=line.channel,
                platform_now=done.now,
            )
        if done.line.decided_at is None:
            done.line.decided_at = done.now
        summary.count(done.line)
        return done
    finally:
        # A pass of one conversation, like a sweep's: the report counts its requests and closes.
        summary.api_requests = engine.platform.requests_made - requests_before
        await journalled(journal.finish_sweep, sweep_id, summary.to_json()["summary"] | {"console": operator})


async def close_now(base: Engine, conversation_id: str, operator: str, *, owner: str) -> Reconciled:
    """Close the conversation now whatever its thresholds, as its rule would close it."""
    engine = _engine(base, owner)
    engine.policy = close_now_policy(engine.policy)
    done = await _reconcile(engine, conversation_id, operator)
    journal = engine.journal
    detail = f"{done.line.decision} ({done.line.rule or 'no rule'}): {done.line.outcome.value}"
    await journalled(journal.record_console_action, operator, "close", conversation_id, detail=detail)
    if done.line.outcome is Outcome.DONE:
        # A decision that waited for approval is answered by the close: nobody is asked about it again.
        for waiting in await journalled(journal.pending_decisions, done.now):
            if waiting.conversation_id == conversation_id:
                resolved, _ = await journalled(
                    journal.resolve_pending,
                    waiting.decision_id,
                    approve=True,
                    operator=operator,
                    now=done.now,
                )
                if resolved:
                    await journalled(journal.settle_pending, waiting.decision_id, Outcome.DONE.value)
    return done


async def set_exempt(
    base: Engine, conversation_id: str, exempt: bool, operator: str, *, owner: str
) -> Conversation:
    """Write (or lift) the exempt attribute on the customer participant; the conversation as read."""
    engine = _engine(base, owner)
    platform = engine.platform
    try:
        conversation = await platform.read(conversation_id, await engine.own.kinds(conversation_id))
    except Gone:
        raise ConsoleRefused(f"conversation {conversation_id} not found", status=404) from None
    customers = conversation.with_role(Role.CUSTOMER)
    customer = conversation.customer or (customers[0] if customers else None)
    if customer is None:
        raise ConsoleRefused(f"conversation {conversation_id} has no customer participant to mark")
    attribute = engine.policy.exempt_attribute
    await platform.prove_writes(engine.settings)
    await platform.annotate(conversation_id, customer.id, {attribute: "true" if exempt else "false"})
    await journalled(
        engine.journal.record_console_action,
        operator,
        "exempt" if exempt else "lift-exempt",
        conversation_id,
        detail=f"{attribute}={'true' if exempt else 'false'} on participant {customer.id}",
    )
    return conversation


async def decide_pending(
    base: Engine, decision_id: str, approve: bool, operator: str, *, owner: str
) -> Approval:
    """Approve (re-check, then act through the engine) or reject a pending decision."""
    engine = _engine(base, owner)
    journal = engine.journal
    now = engine.platform.now()
    resolved, pending = await journalled(
        journal.resolve_pending, decision_id, approve=approve, operator=operator, now=now
    )
    if pending is None:
        raise ConsoleRefused(f"no pending decision {decision_id}", status=404)
    status = pending.status_at(now)
    if not resolved:
        return Approval(pending, status)  # resolved before (here or by another replica), or expired
    await journalled(
        journal.record_console_action,
        operator,
        "approve" if approve else "reject",
        pending.conversation_id,
        detail=f"pending {decision_id}: {pending.decision} ({pending.rule or 'no rule'})",
    )
    if not approve:
        return Approval(pending, status)
    reviewed = PlannedAction(pending.conversation_id, pending.rule, pending.decision, pending.created_at, 0)
    plan = ReviewedPlan(
        Path(f"pending-{decision_id}"), {pending.conversation_id: reviewed}, pending.created_at
    )
    try:
        done = await _reconcile(engine, pending.conversation_id, operator, Selection(plan=plan))
    except BaseException:
        # the sweeps may ask again
        await journalled(journal.settle_pending, decision_id, Outcome.FAILED.value)
        raise
    await journalled(journal.settle_pending, decision_id, done.line.outcome.value)
    return Approval(pending, status, done)
