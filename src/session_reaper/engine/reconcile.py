"""Reconcile one conversation: read -> decide -> lease -> journal -> re-check -> act -> verify -> journal.

`reconcile` is the whole path of one conversation, whatever asked for it (`Trigger`): a sweep loops
over it today; an event mode or a console would call it for the one conversation they are told of.
It calls down only (the core, the two ports, `steps.carry_out`) and builds the conversation's one
`DecisionLine`; what the caller keeps between conversations (the caps, the turn-taking, the read
schedule) is passed in or handed back (`Reconciled.until`), never called back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from session_reaper.config import Settings
from session_reaper.core.approvals import PendingDecision
from session_reaper.core.model import Conversation
from session_reaper.core.plan import CloseSettings, plan
from session_reaper.core.results import DecisionLine, Outcome
from session_reaper.core.rules import Action, Policy, Verdict, evaluate, reread_at
from session_reaper.core.vocabulary import PENDING
from session_reaper.engine.leasing import acquire, act_lease
from session_reaper.engine.limits import Caps, Turns
from session_reaper.engine.off_loop import journalled
from session_reaper.engine.own_messages import OwnMessages
from session_reaper.engine.ports import Gone, JournalPort, PlatformError, PlatformPort, Refused
from session_reaper.engine.recording import QueueNames, idle_seconds
from session_reaper.engine.recovery import recover_one, settle_before_acting
from session_reaper.engine.selection import Selection
from session_reaper.engine.steps import carry_out, closing_cycle_start

UNSETTLED_REASON = (
    "an interrupted step could not be settled yet (no answer, or its request may still land): nothing done"
)
HELD_REASON = "another reaper is acting on this conversation"
SETTLED_REASON = "an interrupted step was settled first: decided again at the next look"


class Trigger(StrEnum):
    """Why a conversation is reconciled now."""

    SWEEP = "sweep"  # a pass over everything in scope (or the ids it was given)
    EVENT = "event"  # the platform said something changed (event mode, to come)
    CONSOLE = "console"  # a person asked (supervisor console): close now, an approval


@dataclass
class Engine:
    """What outlives one conversation within a run: the ports, the policy, the reaper's own texts."""

    platform: PlatformPort
    journal: JournalPort
    settings: Settings
    owner: str
    turns: Turns = field(default_factory=Turns)
    poll_interval: float = 0.25  # seconds between verification reads, doubled up to 2 s
    policy: Policy = field(init=False)
    close: CloseSettings = field(init=False)
    verify_timeout: timedelta = field(init=False)
    own: OwnMessages = field(init=False)
    queue_names: QueueNames = field(init=False)  # the report names queues: read once, when acting

    def __post_init__(self) -> None:
        self.policy = self.settings.policy()
        self.close = self.settings.close_settings()
        self.verify_timeout = self.settings.sweep.verify_timeout
        self.own = OwnMessages(self.journal)
        self.queue_names = QueueNames(self.platform, self.journal)


@dataclass
class Reconciled:
    """What became of one conversation, for the caller to emit (journal in bulk, log, count).

    `until`: not to be read again before then (None: read it next time); `keep_schedule`: leave the
    caller's schedule entry as it is. `stop`: the platform refused the credentials or a permission
    while acting; the caller emits the line (unless `emit` is False: refused before anything was
    journalled, by the write proof), then stops: nothing else can succeed.
    """

    line: DecisionLine
    verdict: Verdict | None
    now: datetime  # the platform time the line is stamped with
    trigger: Trigger
    conversation: Conversation | None = None  # as read for the decision
    until: datetime | None = None
    keep_schedule: bool = False
    stop: Refused | None = None
    emit: bool = True
    settled_first: bool = False  # an interrupted step was settled instead of acting: decide again
    pending: PendingDecision | None = None  # the decision waiting for an operator (approval = true)


async def reconcile(
    engine: Engine,
    conversation_id: str,
    trigger: Trigger,
    *,
    sweep_id: int,
    apply: bool,
    caps: Caps,
    selection: Selection | None = None,
    seen_participants: str | None = None,
    operator: str | None = None,
) -> Reconciled:
    """Read, decide and (when applying and within `caps`) act on one conversation.

    `seen_participants`: discovery's fingerprint of who is in it (None when unknown: then a changed
    participant list cannot be seen before reading, and the read schedule says so). Raises `Refused`
    when the first read is refused: nothing was decided. A rule with `approval = true` pends its
    decision (journalled as `pending`, not acted on) unless a person asked (`Trigger.CONSOLE`, with
    the `operator`'s name journalled in the decision).
    """
    for look in range(2):  # a second look only when, just before acting, an interrupted step was settled
        # or another act was found to have finished what this one read
        done = await _reconcile(
            engine,
            conversation_id,
            trigger,
            sweep_id,
            apply,
            caps,
            selection,
            seen_participants,
            operator,
            look,
        )
        if not done.settled_first:
            return done
        if look == 0:
            # What was read predates the settled step (a text adopted as the reaper's own, a participant
            # found ended): decide once more on a fresh read, with the cap's share given back.
            assert done.verdict is not None
            caps.give_back(done.verdict)
    # another one, left meanwhile: the next look decides
    done.settled_first = False
    done.line.outcome, done.until = Outcome.DEFERRED, None
    done.line.reason = f"{done.line.reason}; {SETTLED_REASON}"
    return done


async def _reconcile(
    engine: Engine,
    conversation_id: str,
    trigger: Trigger,
    sweep_id: int,
    apply: bool,
    caps: Caps,
    selection: Selection | None,
    seen_participants: str | None,
    operator: str | None,
    look: int = 0,
) -> Reconciled:
    selection = selection if selection is not None else Selection()
    platform = engine.platform
    if apply and (trigger is not Trigger.SWEEP or not selection.everything):
        # No sweep's recovery ran just before: settle what is open first, so that the reaper's own
        # unrecorded text is known as its own when deciding and no step is sent twice.
        recovered = await recover_one(
            platform, engine.journal, engine.own, conversation_id, owner=engine.owner
        )
        if recovered == "unreadable":
            return _unread(conversation_id, trigger, Outcome.FAILED, UNSETTLED_REASON, platform.now())
        if recovered == "held":  # not now: the one holding it settles it, or its lease runs out
            return _unread(conversation_id, trigger, Outcome.DEFERRED, HELD_REASON, platform.now())
    try:
        conversation = await platform.read(conversation_id, await engine.own.kinds(conversation_id))
    except Gone:
        now = platform.now()
        if selection.named(conversation_id):  # asked for by id: say it is not there
            line, verdict = selection.missing(conversation_id, now)
            return Reconciled(line, verdict, now, trigger, keep_schedule=True)
        # Ended and gone between discovery and this read: nothing left to do, and no failure.
        return _unread(conversation_id, trigger, Outcome.SKIPPED, "no longer on the platform: ended", now)
    except Refused:
        raise
    except PlatformError as exc:
        # This conversation's trouble (5xx storm, timeouts, an unreadable answer) is its own:
        # nothing is done on it, the others go on, and the next pass reads it again.
        now = platform.now()
        return _unread(conversation_id, trigger, Outcome.FAILED, "could not be read: nothing done", now, exc)
    now = platform.now()
    policy = engine.policy
    verdict = evaluate(conversation, now, policy)
    visible = seen_participants is not None
    until = reread_at(conversation, now, policy, verdict, changes_visible=visible)
    done = Reconciled(_line(conversation, verdict), verdict, now, trigger, conversation, until)
    line = done.line
    if (changed := selection.cancels(conversation_id, verdict)) is not None:
        planned = selection.planned(conversation_id)
        assert planned is not None
        line.rule, line.decision, line.reason = planned.rule, planned.decision, changed
        line.outcome = Outcome.CANCELLED  # the reviewed line no longer holds: never forced
    elif verdict.action is Action.SKIP:
        line.outcome = Outcome.SKIPPED
    elif verdict.action is Action.DEFER:
        line.outcome = Outcome.DEFERRED
    elif apply and trigger is not Trigger.CONSOLE and engine.policy.rule(verdict.rule or "").approval:
        await _pend(engine, done, conversation, verdict)
    elif not caps.take(verdict):
        line.outcome = Outcome.DEFERRED
        line.reason = f"{verdict.reason}; deferred: per-sweep cap reached"
        done.until = None  # read it again next pass: the cap, not the conversation, held it back
    elif not apply:
        line.outcome = Outcome.DRY_RUN
        line.steps = [s.kind.value for s in plan(conversation, verdict, engine.close)]
    else:
        await _act(engine, done, conversation, verdict, sweep_id, operator, first_look=look == 0)
    return done


async def _pend(engine: Engine, done: Reconciled, conversation: Conversation, verdict: Verdict) -> None:
    """Journal the decision as waiting for an operator instead of acting (one per conversation)."""
    line = done.line
    pending = await journalled(
        engine.journal.pend,
        conversation.id,
        rule=verdict.rule,
        decision=verdict.action.value,
        reason=verdict.reason,
        queue_id=line.queue_id,
        now=done.now,
        ttl=engine.settings.console.approval_ttl,
    )
    done.pending = pending
    if pending.status in ("rejected", "approved"):
        who = pending.operator or "an operator"
        done_by = "not acted on" if pending.status == "rejected" else "carried out from the console"
        line.outcome = Outcome.SKIPPED
        line.reason = f"{verdict.reason}; {pending.status} by {who}: {done_by}"
        return
    line.decision = PENDING
    line.outcome = Outcome.DEFERRED
    line.steps = [s.kind.value for s in plan(conversation, verdict, engine.close)]
    expires = pending.expires_at.strftime("%H:%M:%S")
    line.reason = f"{verdict.reason}; waiting for an operator's approval (until {expires}Z)"


def _line(conversation: Conversation, verdict: Verdict) -> DecisionLine:
    return DecisionLine(
        conversation.id,
        verdict.rule,
        verdict.action.value,
        Outcome.SKIPPED,
        verdict.reason,
        queue_id=next(iter(sorted(conversation.queue_ids)), None),
        channel=conversation.channel or None,
    )


def _unread(
    conversation_id: str,
    trigger: Trigger,
    outcome: Outcome,
    reason: str,
    now: datetime,
    error: PlatformError | None = None,
) -> Reconciled:
    """The line of a conversation that could not be read: skipped (gone) or failed (trouble)."""
    line = DecisionLine(conversation_id, None, Action.SKIP.value, outcome, reason)
    line.error = str(error) if error is not None else None
    return Reconciled(line, None, now, trigger)


async def _act(
    engine: Engine,
    done: Reconciled,
    conversation: Conversation,
    verdict: Verdict,
    sweep_id: int,
    operator: str | None = None,
    *,
    first_look: bool = True,
) -> None:
    line = done.line
    platform, journal = engine.platform, engine.journal
    try:
        # Before the first write: every write this configuration needs is allowed (once per process).
        await platform.prove_writes(engine.settings)
    except Refused as exc:
        done.stop, done.emit = exc, False
        return
    except PlatformError as exc:
        line.outcome, line.error = Outcome.FAILED, f"write permissions could not be proven: {exc}"
        return
    now = platform.now()
    ttl = act_lease(engine.verify_timeout)
    if not await acquire(journal, conversation.id, engine.owner, ttl=ttl, now=now):
        line.outcome = Outcome.SKIPPED
        line.reason = HELD_REASON
        return
    lease = (conversation.id, engine.owner)
    released = False  # given back with the decision's outcome, in its transaction, when it is journalled
    try:
        # Holding the lease, nobody else is acting on it; an intent still open is one that nobody
        # will settle in time (a dead reaper's, or one left open on purpose): settle it first.
        # One read of the journal: the intents left open, the steps already in place this closing cycle.
        steps = await journalled(
            journal.conversation_steps, conversation.id, since=closing_cycle_start(conversation)
        )
        if first_look and not steps.open and verdict.action.value in steps.finished:
            # Another act with this decision (a replica, a re-check) finished after what was read here
            # and gave the lease back before this act took it: its steps are in place and its decision
            # says done. Going on would "resume" them and report an act this one never made (replicas
            # counted one close twice); decide again on a fresh read. On that look an act goes on.
            done.settled_first = True
            return
        try:
            settled = await settle_before_acting(platform, journal, engine.own, conversation.id, steps.open)
        except Refused as exc:
            line.outcome, line.error = Outcome.FAILED, str(exc)
            done.stop = exc
            return
        if settled is False:
            line.outcome, line.reason = Outcome.FAILED, f"{verdict.reason}; {UNSETTLED_REASON}"
            done.until = None
            return
        if settled:
            done.settled_first = True
            return
        decision_id = await journalled(
            journal.record_decision,
            sweep_id,
            conversation.id,
            rule=verdict.rule,
            decision=verdict.action.value,
            reason=verdict.reason,
            threshold_seconds=verdict.threshold.total_seconds() if verdict.threshold else None,
            idle_seconds=idle_seconds(conversation, now),
            held_seconds=(now - verdict.since).total_seconds() if verdict.since else None,
            queue_id=line.queue_id,
            channel=line.channel,
            platform_now=now,
            operator=operator,
        )
        await engine.queue_names.remember(line.queue_id)
        line.decision_id = decision_id
        try:
            await carry_out(engine, line, conversation, verdict, decision_id, steps.in_place)
        except Refused as exc:
            platform.forget_proof()  # the role changed under us: prove again before writing
            await journalled(
                journal.set_decision_outcome, decision_id, Outcome.FAILED.value, error=str(exc), release=lease
            )
            released = True
            line.outcome, line.error = Outcome.FAILED, str(exc)
            done.now, done.stop = now, exc
            return
        await journalled(
            journal.set_decision_outcome, decision_id, line.outcome.value, error=line.error, release=lease
        )
        released = True
    finally:
        # awaited to its end even when the act is being cancelled (off_loop.journalled): never dropped
        if not released:
            await journalled(journal.release, *lease)
