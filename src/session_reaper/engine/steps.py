"""Carry out one conversation's plan against the platform, safely.

The plan (pure) says *what*; this module says *how*, with the guarantees DESIGN.md promises:
- re-read just before the first write, and again just before the disconnect when other writes came
  first, each time after the step's intent is journalled (nothing but the judging of the answer sits
  between the read and the write), and cancel if anything happened since the decision;
- every step is journalled as an intent before its request is sent and with its outcome after, and a
  step the journal already shows as done is never sent again; an answer that may hide a success (a
  timeout, a 500/502/504) leaves the intent open, for recovery to settle from the platform's state;
- a disconnect is verified by reading until the end shows, escalated one level when it does not.
It fills in the conversation's one `DecisionLine` (built by `reconcile`) and calls down only: the
core, and the two ports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from session_reaper.core.model import Conversation
from session_reaper.core.plan import ENDING_STEPS, Step, StepKind, escalate, plan
from session_reaper.core.results import DecisionLine, Outcome
from session_reaper.core.rules import Action, Verdict, changed_since
from session_reaper.core.vocabulary import TEXT_STEPS
from session_reaper.engine.fence import StepFailed, fence
from session_reaper.engine.leasing import act_lease
from session_reaper.engine.off_loop import journalled
from session_reaper.engine.ports import AlreadyDone, Gone, Guard, PlatformError, Refused

if TYPE_CHECKING:
    from session_reaper.engine.reconcile import Engine


@dataclass
class Execution:
    """The running record of one conversation being acted on."""

    conversation_id: str
    decision_id: int
    decided: Conversation
    verdict: Verdict
    steps_done: list[str] = field(default_factory=list)
    last_seen: Conversation | None = None
    # Participants this run has disconnected: their leaving is the reaper's own doing, never a reason
    # for the re-check before the next disconnect (a conference, a transfer in progress) to cancel.
    disconnected: set[str] = field(default_factory=set)
    # (kind, participant id) of the steps whose effect the journal shows in place for this closing
    # cycle: read with the open intents when the act took the lease (an act resumed finds its earlier
    # steps there), kept up to date by this run, which holds the lease (nobody else journals here).
    completed: set[tuple[str, str | None]] = field(default_factory=set)


def closing_cycle_start(decided: Conversation) -> datetime | None:
    """Steps journalled after the last activity (else the start) belong to this closing cycle: a guest
    who wrote since begins another, whose steps are all to send again."""
    last = decided.last_activity
    return last.at if last is not None else decided.started_at


async def carry_out(
    engine: Engine,
    line: DecisionLine,
    decided: Conversation,
    verdict: Verdict,
    decision_id: int,
    in_place: Collection[tuple[str, str | None]] = (),
) -> None:
    """Act on one conversation, filling in `line`. Until one disconnect has been accepted, acts take
    turns (`Turns`): if the client may not disconnect, only one guest is written to before the 403
    stops the pass (the closing text precedes the disconnect), not one per concurrent worker. The
    turn ends when the platform accepts that disconnect (2xx), not when its end is verified: a
    platform slow to apply one close must not hold every other close behind its verification."""
    turns = engine.turns
    if turns.disconnect_proven.is_set() or verdict.action in (Action.WARN, Action.WRAPUP):
        return await _execute(engine, line, decided, verdict, decision_id, in_place)
    act: asyncio.Task[None] | None = None
    async with turns.first_disconnect:
        if not turns.disconnect_proven.is_set():
            act = asyncio.create_task(_execute(engine, line, decided, verdict, decision_id, in_place))
            accepted = asyncio.create_task(turns.disconnect_proven.wait())
            try:
                await asyncio.wait((act, accepted), return_when=asyncio.FIRST_COMPLETED)
            except BaseException:
                act.cancel()  # the pass is being cancelled: so is this act, as if awaited directly
                raise
            finally:
                accepted.cancel()
    if act is None:
        return await _execute(engine, line, decided, verdict, decision_id, in_place)
    return await act  # the turn is over; the rest (verification) runs alongside the others


async def _execute(
    engine: Engine,
    line: DecisionLine,
    decided: Conversation,
    verdict: Verdict,
    decision_id: int,
    in_place: Collection[tuple[str, str | None]],
) -> None:
    run = Execution(decided.id, decision_id, decided, verdict, completed=set(in_place))
    line.outcome = Outcome.DONE
    platform = engine.platform
    try:
        # Communication ids (needed to write to the guest or wrap up) come from the decision's read.
        steps = plan(decided, verdict, engine.close)
        if all(step.kind is StepKind.VERIFY for step in steps):
            # Nothing to write: the re-check alone says whether what was decided still holds.
            run.last_seen = await platform.recheck(decided.id, await engine.own.kinds(decided.id))
            why = _changed(engine, decided, run.last_seen)
            if why is not None:
                return _cancelled(line, why)
        wrote = False
        for step in steps:
            if step.kind is StepKind.VERIFY:
                await _verify_with_escalation(engine, run, steps)
                run.steps_done.append(StepKind.VERIFY.value)
                continue
            # The re-check (the media view: a second, independent look) comes right before the first
            # write this run sends, and again before an ending step after a write. `last_seen` is
            # still None while every step so far was found done in the journal (an act resumed).
            recheck = run.last_seen is None or (step.kind in ENDING_STEPS and wrote)
            why = await _run_step(engine, run, step, recheck=recheck)
            if why is not None:
                line.steps = run.steps_done
                return _cancelled(line, why)
            wrote = True
    except Gone:
        line.outcome = Outcome.SKIPPED
        line.reason = "conversation no longer exists"
    except Refused:
        raise
    except (StepFailed, PlatformError) as exc:
        line.outcome = Outcome.FAILED
        line.error = str(exc)
    line.steps = run.steps_done


def _changed(
    engine: Engine, before: Conversation, after: Conversation, own: set[str] | None = None
) -> str | None:
    return changed_since(
        before,
        after,
        exempt_attribute=engine.policy.exempt_attribute,
        watch_platform_timer=engine.policy.respect_platform_timer,
        disconnected_by_reaper=own or (),
    )


def _cancelled(line: DecisionLine, why: str) -> None:
    line.outcome = Outcome.CANCELLED
    line.reason = f"cancelled: {why}"


async def _run_step(engine: Engine, run: Execution, step: Step, *, recheck: bool = False) -> str | None:
    """Journal, (re-check,) send, journal. With `recheck`, the conversation is read again right before
    the request and the step is cancelled if anything happened since: returns why, else None."""
    journal = engine.journal
    own_before = set(run.disconnected)
    if step.kind is StepKind.DISCONNECT_AGENT and step.participant_id:
        # Sent now or by an earlier run the journal remembers: the reaper's own doing either way.
        run.disconnected.add(step.participant_id)
    if (step.kind.value, step.participant_id) in run.completed:
        run.steps_done.append(step.kind.value)
        return None
    if recheck:
        # The re-check and the write leave back to back: no pacing wait between them.
        await engine.platform.reserve(2)
    # Stamped with a time the platform has certainly reached, never with the estimate of its `now`:
    # recovery takes a text at or after the intent for the one it sent, so the stamp must not postdate
    # the time the platform writes on that text, however slow the platform's clock runs against ours.
    at = engine.platform.reached()
    # Fencing: an act that stalled past its lease (retries, a slow platform) may have lost the
    # conversation to another reaper, which acts on it now; a step sent anyway would be a second one.
    # The lease is renewed in the intent's own transaction, committed in its worker thread before this
    # returns, and so before the request below is sent. A cancellation meanwhile waits for the commit
    # (off_loop.journalled), then stops the act: the intent is then open with nothing sent, as after a
    # crash here, and recovery settles it as not sent.
    step_id = await journalled(
        journal.held_step_intent,
        run.decision_id,
        run.conversation_id,
        step.kind.value,
        step.participant_id,
        owner=engine.owner,
        ttl=act_lease(engine.verify_timeout),
        at=at,
    )
    if step_id is None:
        raise StepFailed(
            "the conversation's lease ran out and another reaper took it: stopped before this step"
        )
    if recheck:
        # Re-read after the intent is journalled, not before: between what the re-check saw and the
        # request there is then no ledger round trip, only the answer being judged (a guest who writes
        # in that gap is the one race no client can close; it must stay as short as can be).
        try:
            why = await _recheck(engine, run, own_before)
        except Exception:
            await journalled(journal.step_outcome, step_id, "cancelled")  # nothing was sent
            raise
        if why is not None:
            await journalled(journal.step_outcome, step_id, "cancelled")
            return why
    try:
        outcome, text = await _send(engine, run, step, fence(engine, run.conversation_id, step_id))
    except AlreadyDone as exc:
        # Already in the state we wanted (e.g. the participant left meanwhile): verify will judge.
        await journalled(
            journal.step_outcome, step_id, "already-done", http_status=exc.status, context_id=exc.context_id
        )
        run.completed.add((step.kind.value, step.participant_id))
    except PlatformError as exc:
        if exc.maybe_applied:
            # No answer once it had left (a timeout), or a 500/502/504: the platform may have carried
            # it out. "failed" would let the next pass send it again (a second closing text); the
            # intent stays open instead, and recovery settles it from what the platform shows.
            raise
        await journalled(
            journal.step_outcome,
            step_id,
            "failed",
            http_status=exc.status,
            context_id=exc.context_id,
            error_code=exc.code,
        )
        raise
    except BaseException:
        # Cancelled or crashed mid-request, or the ledger lost after the send: the intent stays open
        # for recovery to resolve.
        raise
    else:
        # The text's id goes into the outcome's transaction: the reaper's own from then on, here and in
        # every process (a text sent but not journalled is adopted by recovery, fix 31).
        message = (run.conversation_id, *text) if text is not None else None
        await journalled(journal.step_outcome, step_id, outcome, reaper_message=message)
        if text is not None:
            engine.own.add(run.conversation_id, *text)
        run.completed.add((step.kind.value, step.participant_id))
    if step.kind in ENDING_STEPS:
        engine.turns.disconnect_proven.set()  # the platform let it through: the permission is there
    run.steps_done.append(step.kind.value)
    return None


async def _recheck(engine: Engine, run: Execution, own: set[str]) -> str | None:
    """Read the media view again; why acting now would be wrong, or None."""
    cid = run.conversation_id
    latest = await engine.platform.recheck(cid, await engine.own.kinds(cid))
    before = run.last_seen if run.last_seen is not None else run.decided
    run.last_seen = latest
    return _changed(engine, before, latest, own)


async def _send(
    engine: Engine, run: Execution, step: Step, guard: Guard
) -> tuple[str, tuple[str, str] | None]:
    """Send the step's one request (`guard` before each attempt); returns the step outcome to journal,
    and the (message id, kind) of the text it sent, if any."""
    platform = engine.platform
    cid = run.conversation_id
    match step.kind:
        case StepKind.ANNOTATE:
            await platform.annotate(
                cid, _need(step.participant_id, step), dict(step.attributes or {}), guard=guard
            )
        case StepKind.WARNING_TEXT | StepKind.CLOSING_TEXT:
            message_id = await platform.send_text(
                cid, _need(step.communication_id, step), step.text or "", guard=guard
            )
            if message_id is not None:
                return "done", (message_id, TEXT_STEPS[step.kind].value)
        case StepKind.DISCONNECT_AGENT:
            await platform.disconnect_participant(cid, _need(step.participant_id, step), guard=guard)
        case StepKind.DISCONNECT_CONVERSATION:
            await platform.disconnect_conversation(cid, guard=guard)
        case StepKind.TEARDOWN:
            await platform.teardown(cid, guard=guard)
        case StepKind.WRAPUP_AGENT:
            current = run.last_seen.participant(step.participant_id or "") if run.last_seen else None
            if current is not None and current.wrapup is not None:
                return "already-done", None  # the agent set their own wrap-up: never overwrite it
            await platform.apply_wrapup(
                cid,
                _need(step.participant_id, step),
                _need(step.communication_id, step),
                _need(step.wrapup_code, step),
                step.wrapup_notes or "",
                guard=guard,
            )
        case _:
            raise StepFailed(f"unknown step {step.kind}")
    return "done", None


async def _verify_with_escalation(engine: Engine, run: Execution, steps: tuple[Step, ...]) -> None:
    ending = [s for s in steps if s.kind in ENDING_STEPS]
    if not ending:
        return
    current: Step | None = ending[-1]
    sent = ending
    while current is not None:
        if await _wait_for_end(engine, run, sent):
            return
        current = escalate(current, engine.close.allow_teardown)
        if current is None:
            break
        await _run_step(engine, run, current)
        sent = [current]
    state = _describe(run.last_seen)
    timeout = engine.verify_timeout.total_seconds()
    raise StepFailed(f"conversation did not end within {timeout:.0f}s; last seen: {state}")


async def _wait_for_end(engine: Engine, run: Execution, sent: list[Step]) -> bool:
    """Read until the conversation has ended (True), or until waiting can no longer help (False).

    Waiting helps while our own disconnect has not shown yet (the platform propagates changes
    with a delay). Once it shows and the conversation is still open — say a queue leg is still
    connected — nothing will change by itself: escalate at once rather than wait out the timeout.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + engine.verify_timeout.total_seconds()
    delay = engine.poll_interval
    cid = run.conversation_id
    while True:
        seen = await engine.platform.read(cid, await engine.own.kinds(cid))
        run.last_seen = seen
        if all(p.ended for p in seen.participants):
            return True
        if _own_effect_visible(sent, seen) or loop.time() + delay > deadline:
            return False
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)


def _own_effect_visible(sent: list[Step], seen: Conversation) -> bool:
    """Whether the participant disconnects we sent show on the platform (a whole-conversation call
    shows only as the end itself)."""
    targets = [s.participant_id for s in sent if s.kind is StepKind.DISCONNECT_AGENT and s.participant_id]
    if not targets or len(targets) != len(sent):
        return False
    return all((p := seen.participant(t)) is None or p.ended for t in targets)


def _need(value: str | None, step: Step) -> str:
    if not value:
        raise StepFailed(f"step {step.kind.value} lacks the id it needs")
    return value


def _describe(conversation: Conversation | None) -> str:
    if conversation is None:
        return "unknown"
    return ", ".join(f"{p.purpose or p.role.value}={p.state}" for p in conversation.participants)
