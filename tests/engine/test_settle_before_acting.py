"""Every act settles the conversation's open intents first, whatever triggered it.

A sweep's recovery settles what a dead reaper left open before anything else, but nothing else did:
an event's re-check comes between two reconciliations, and an intent left open on purpose (an answer
that may hide a success: a closing text whose answer came after `request_timeout`) was followed, one
minute later, by a re-check that found no effective closing text in the journal and sent a second one.
Here `reconcile` is called twice in one process, as the events mode's timer does: the first call's
closing text is answered too late (the platform carries it out all the same), the second call must
adopt that text, not send another, and close the conversation.

Against the emulator over loopback and a real SQLite ledger; what is asserted is what a user would
see: the texts in the conversation, its state, the journal's open intents.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from session_reaper.config import Settings
from session_reaper.core.results import Outcome
from session_reaper.engine.limits import Caps
from session_reaper.engine.reconcile import Engine, Reconciled, Trigger, reconcile
from session_reaper.genesys.api import GenesysApi
from session_reaper.genesys.port import GenesysPlatform
from session_reaper.genesys.regions import resolve
from session_reaper.ledger import Ledger
from tests.helpers.scenarios import acd, agent, customer, ended, idle_chat, participants_by_purpose

SITUATIONS = {
    # the rule's condition does not depend on the agent's texts: a second text would go out at once
    "customer-left": {
        "messageType": "webmessaging",
        "queueId": "queue-support",
        "participants": [
            customer(state="disconnected", ago="20m", endedAgo="15m"),
            acd(),
            agent(ago="19m"),
        ],
    },
    # the unrecognised text restarted the idle clock: without settling it first nothing is done for
    # another 30 minutes; settled, it is the reaper's own text and the close goes on at once
    "idle": idle_chat(50),
}


@contextlib.asynccontextmanager
async def connected(
    emulator: Any, ledger: Ledger, timeout: float | None = None
) -> AsyncIterator[GenesysPlatform]:
    """The platform port over the emulator (`timeout`: the client's request timeout, else its default),
    the ledger on its clock, as a process of the reaper has them."""
    endpoints = resolve(None, emulator.base_url)
    api = (
        GenesysApi.connect(endpoints, "emulator", "emulator-secret")
        if timeout is None
        else GenesysApi.connect(endpoints, "emulator", "emulator-secret", timeout=timeout)
    )
    async with api as connection:
        platform = GenesysPlatform(connection)
        ledger.clock = platform.now
        yield platform


def _texts_carried_out(emulator: Any, conversation_id: str) -> int:
    return sum(
        1
        for r in emulator.requests()
        if r["method"] == "POST"
        and r["path"].endswith("/messages")
        and conversation_id in r["path"]
        and 200 <= r["status"] < 300
    )


@pytest.mark.parametrize("situation", sorted(SITUATIONS))
def test_an_intent_left_open_by_a_late_answer_is_settled_before_the_next_re_check_acts(
    emulator: Any, tmp_path: Path, situation: str
) -> None:
    cid = emulator.create_conversation(SITUATIONS[situation])["id"]
    # the closing text's answer comes 2.5 s after it was sent, past the client's 1 s timeout
    emulator.fault(method="POST", path=f"/{cid}/.*/messages$", latencyMs=2500, times=1)
    settings = Settings.model_validate(
        {
            "sweep": {
                "ledger": f"sqlite:///{tmp_path / 'l.db'}",
                "verify_timeout": "5s",
            }
        }
    )
    ledger = Ledger.open(settings.sweep.ledger)

    async def main() -> tuple[Reconciled, Reconciled]:
        async with connected(emulator, ledger, timeout=1.0) as platform:
            engine = Engine(platform, ledger, settings, owner="events-mode")
            sweep_id = ledger.start_sweep(True, owner="events-mode")
            caps = Caps(closes_left=10, teardowns_left=10)
            first = await reconcile(engine, cid, Trigger.EVENT, sweep_id=sweep_id, apply=True, caps=caps)
            deadline = time.monotonic() + 20
            while _texts_carried_out(emulator, cid) == 0:  # the late answer is served: the text is there
                assert time.monotonic() < deadline, "the held closing text was never carried out"
                await asyncio.sleep(0.05)
            second = await reconcile(engine, cid, Trigger.EVENT, sweep_id=sweep_id, apply=True, caps=caps)
            ledger.finish_sweep(sweep_id, {})
            return first, second

    first, second = asyncio.run(main())
    assert first.line.outcome is Outcome.FAILED, first.line  # it could not know whether the text went out
    assert _texts_carried_out(emulator, cid) == 1, "the closing text was sent a second time"
    assert second.line.outcome is Outcome.DONE, (second.line.reason, second.line.steps)
    view = emulator.conversation(cid)
    assert all(
        p["state"] in ("disconnected", "terminated") or ended({"participants": [p]})
        for p in participants_by_purpose(view, "agent")
    ), view
    assert ledger.pending_steps() == []
    ledger.close()


@pytest.mark.parametrize("carried_out", [True, False])
def test_a_sweep_that_meets_an_intent_nobody_settled_settles_it_and_decides_again(
    emulator: Any, tmp_path: Path, carried_out: bool
) -> None:
    """A sweep's recovery ran at its start; an intent opened after that by a replica that then died
    (its lease ran out) is met only when acting. Not carried out: the act settles it (not sent), reads
    again, decides again and sends the one closing text. Carried out: the dead replica's text, not yet
    known as the reaper's own, is someone's activity to this sweep, which leaves the conversation alone
    (the next pass's recovery adopts it). Either way, one closing text in all."""
    cid = emulator.create_conversation(SITUATIONS["customer-left"])["id"]
    settings = Settings.model_validate(
        {"sweep": {"ledger": f"sqlite:///{tmp_path / 'l.db'}", "verify_timeout": "5s"}}
    )
    ledger = Ledger.open(settings.sweep.ledger)
    dead = ledger.start_sweep(True, owner="dead-replica")
    decision = ledger.record_decision(dead, cid, decision="close", rule="customer-left", reason="left")
    # minutes ago: past the while a request of a process that died may still land
    ledger.step_intent(decision, cid, "closing-text", at=emulator.now() - timedelta(minutes=5))
    if carried_out:  # the dead replica's text reached the platform; its id never reached the journal
        emulator.message(cid, "agent", "This conversation is being closed.")

    async def main() -> Reconciled:
        async with connected(emulator, ledger) as platform:
            engine = Engine(platform, ledger, settings, owner="survivor")
            sweep_id = ledger.start_sweep(True, owner="survivor")
            caps = Caps(closes_left=1, teardowns_left=1)  # the second decision needs the share back
            return await reconcile(engine, cid, Trigger.SWEEP, sweep_id=sweep_id, apply=True, caps=caps)

    done = asyncio.run(main())
    expected = Outcome.SKIPPED if carried_out else Outcome.DONE
    assert done.line.outcome is expected, (done.line.reason, done.line.error)
    assert _texts_carried_out(emulator, cid) == (0 if carried_out else 1)
    assert len(ledger.pending_steps()) == (1 if carried_out else 0)
    ledger.close()


def test_an_open_intent_another_live_reaper_holds_is_left_to_it(emulator: Any, tmp_path: Path) -> None:
    """The conversation's lease is another replica's, which may be sending this very step: neither
    settled nor acted on, looked at again later (deferred, so an event's timer is armed again)."""
    from datetime import timedelta

    from session_reaper.engine.leasing import acquire

    cid = emulator.create_conversation(SITUATIONS["customer-left"])["id"]
    settings = Settings.model_validate(
        {"sweep": {"ledger": f"sqlite:///{tmp_path / 'l.db'}", "verify_timeout": "5s"}}
    )
    ledger = Ledger.open(settings.sweep.ledger)
    other = ledger.start_sweep(True, owner="other-replica")
    decision = ledger.record_decision(other, cid, decision="close", rule="customer-left", reason="left")
    ledger.step_intent(decision, cid, "closing-text", at=emulator.now())
    assert asyncio.run(acquire(ledger, cid, "other-replica", ttl=timedelta(minutes=5), now=emulator.now()))
    emulator.clear_requests()

    async def main() -> Reconciled:
        async with connected(emulator, ledger) as platform:
            engine = Engine(platform, ledger, settings, owner="this-replica")
            sweep_id = ledger.start_sweep(True, owner="this-replica")
            caps = Caps(closes_left=1, teardowns_left=1)
            return await reconcile(engine, cid, Trigger.EVENT, sweep_id=sweep_id, apply=True, caps=caps)

    done = asyncio.run(main())
    assert done.line.outcome is Outcome.DEFERRED and "another reaper" in (done.line.reason or "")
    assert [r for r in emulator.requests() if cid in r["path"]] == []  # not even read
    assert len(ledger.pending_steps()) == 1
    ledger.close()


def test_a_text_still_held_by_the_platform_is_not_taken_for_unsent(emulator: Any, tmp_path: Path) -> None:
    """Found by the soak (docs/reliability.md, run J: two double texts): the next look came while the
    platform still held the text whose answer never came. Recovery read "not there", settled it as not
    sent, and the text sent again doubled the one that landed a moment later. While a write whose
    answer never came may still land, its intent stays open and nothing is done; once it has landed it
    is adopted and the close goes on with one text."""
    cid = emulator.create_conversation(SITUATIONS["customer-left"])["id"]
    emulator.fault(method="POST", path=f"/{cid}/.*/messages$", latencyMs=2500, times=1)
    settings = Settings.model_validate(
        {"sweep": {"ledger": f"sqlite:///{tmp_path / 'l.db'}", "verify_timeout": "5s"}}
    )
    ledger = Ledger.open(settings.sweep.ledger)

    async def main() -> tuple[Reconciled, Reconciled, Reconciled]:
        async with connected(emulator, ledger, timeout=1.0) as platform:
            engine = Engine(platform, ledger, settings, owner="events-mode")
            sweep_id = ledger.start_sweep(True, owner="events-mode")
            caps = Caps(closes_left=10, teardowns_left=10)
            first = await reconcile(engine, cid, Trigger.EVENT, sweep_id=sweep_id, apply=True, caps=caps)
            assert _texts_carried_out(emulator, cid) == 0  # still held: the next look comes now
            held = await reconcile(engine, cid, Trigger.EVENT, sweep_id=sweep_id, apply=True, caps=caps)
            deadline = time.monotonic() + 20
            while _texts_carried_out(emulator, cid) == 0:
                assert time.monotonic() < deadline, "the held closing text was never carried out"
                await asyncio.sleep(0.05)
            landed = await reconcile(engine, cid, Trigger.EVENT, sweep_id=sweep_id, apply=True, caps=caps)
            return first, held, landed

    first, held, landed = asyncio.run(main())
    assert first.line.outcome is Outcome.FAILED
    assert held.line.outcome is Outcome.FAILED and "may still land" in (held.line.reason or ""), held.line
    assert _texts_carried_out(emulator, cid) == 1, "the closing text was sent a second time"
    assert landed.line.outcome is Outcome.DONE, (landed.line.reason, landed.line.error)
    assert ledger.pending_steps() == []
    ledger.close()


def _one_close() -> Caps:
    return Caps(closes_left=1, teardowns_left=1)


async def _until_the_clock_jumped(emulator: Any, started: datetime, what: str) -> None:
    """Until the trigger on the first act's write moved the platform's clock five minutes on."""
    deadline = time.monotonic() + 20
    while emulator.now() < started + timedelta(seconds=290):
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


def test_an_act_that_stalled_past_its_lease_stops_before_its_next_step(emulator: Any, tmp_path: Path) -> None:
    """Found by the soak (run L: 18 double texts in the events mode): a timer's re-check and a
    reconciliation sweep of one process act with owners of their own; when one act stalled past its
    lease (two virtual minutes; the soak's clock runs 605 times faster than the wall), the other took the
    conversation over and closed it, and the first went on and sent its text too. Each step renews the
    lease first; an act that lost it stops before writing anything more. (Since fix 9 the other act
    does not act either while the first's annotate is still on its way: it leaves that intent open, and
    the next look, once the annotate is answered, settles it and closes with one text.)"""
    cid = emulator.create_conversation(SITUATIONS["customer-left"])["id"]
    started = emulator.now()
    annotate = f"/{cid}/participants/[^/]+/attributes$"
    # the first act's first write (after its re-check): the clock jumps five minutes on (its lease runs
    # out) and the answer is slow; the text it sends next is not re-checked (only a disconnect is)
    emulator.trigger(method="PATCH", path=annotate, action={"type": "advance", "seconds": 300})
    emulator.fault(method="PATCH", path=annotate, latencyMs=1500, times=1)
    # the other act's closing text is still on its way (journalled, not yet done) when the first resumes
    emulator.fault(method="POST", path=f"/{cid}/.*/messages$", latencyMs=3000, times=1)
    settings = Settings.model_validate(
        {"sweep": {"ledger": f"sqlite:///{tmp_path / 'l.db'}", "verify_timeout": "5s"}}
    )
    ledger = Ledger.open(settings.sweep.ledger)

    async def main() -> tuple[Reconciled, Reconciled, Reconciled]:
        async with connected(emulator, ledger) as platform:
            stalled = Engine(platform, ledger, settings, owner="watch-timer")
            other = Engine(platform, ledger, settings, owner="reconciliation")
            sweep_id = ledger.start_sweep(True, owner="watch-timer")

            first = asyncio.create_task(
                reconcile(stalled, cid, Trigger.EVENT, sweep_id=sweep_id, apply=True, caps=_one_close())
            )
            await _until_the_clock_jumped(emulator, started, "the first act's annotate never left")
            second = await reconcile(
                other, cid, Trigger.SWEEP, sweep_id=sweep_id, apply=True, caps=_one_close()
            )
            stalled_done = await first
            third = await reconcile(
                other, cid, Trigger.SWEEP, sweep_id=sweep_id, apply=True, caps=_one_close()
            )
            return stalled_done, second, third

    first, second, third = asyncio.run(main())
    # the annotate was on its way when the other act met its intent: neither settled nor acted on
    assert second.line.outcome is Outcome.FAILED and "may still land" in (second.line.reason or ""), (
        second.line
    )
    assert first.line.outcome is Outcome.FAILED and "lease" in (first.line.error or ""), first.line
    assert third.line.outcome is Outcome.DONE, (third.line.reason, third.line.error)
    assert _texts_carried_out(emulator, cid) == 1, "both acts sent their closing text"
    ledger.close()


def test_a_step_retried_past_its_lease_is_neither_settled_as_unsent_nor_sent_twice(
    emulator: Any, tmp_path: Path
) -> None:
    """Found by the events-mode soak smoke (one run in four: a conversation torn down twice): a sweep's
    teardown was answered 503 again and again in a 5xx storm and retried, long past its lease (two
    virtual minutes); meanwhile an event's re-check took the conversation, found the intent open and
    the conversation not ended, settled it "not sent" and tore it down, and the sweep's retry, answered
    202 at last, tore it down again. Here the same with a closing text (a second one is what a guest
    would see): its first attempt is answered 503 after the platform's clock has jumped five minutes on,
    and the other act looks while that answer is on its way (the agent's disconnect after a text is
    slow, so a retry that goes out meanwhile is a second text in the guest's window). A step whose
    request may still be sent is not settled; the retry goes out once and the close is done with one
    text."""
    cid = emulator.create_conversation(SITUATIONS["customer-left"])["id"]
    started = emulator.now()
    texts = f"/{cid}/.*/messages$"
    # the closing text's first attempt: the clock five minutes on (the act's lease runs out), then a
    # 503 ("not processed": repeated, as a POST may be) that comes 1.5 s later; the retry goes through
    emulator.trigger(method="POST", path=texts, action={"type": "advance", "seconds": 300})
    emulator.fault(method="POST", path=texts, status=503, latencyMs=1500, times=1)
    # the agent's disconnect that follows a text is held 3 s: a retry sent meanwhile is a second text
    emulator.fault(method="PATCH", path=f"/{cid}/participants/[^/]+$", latencyMs=3000, times=1)
    settings = Settings.model_validate(
        {"sweep": {"ledger": f"sqlite:///{tmp_path / 'l.db'}", "verify_timeout": "5s"}}
    )
    ledger = Ledger.open(settings.sweep.ledger)

    async def main() -> tuple[Reconciled, Reconciled]:
        async with connected(emulator, ledger) as platform:
            sweep = Engine(platform, ledger, settings, owner="reconciliation")
            timer = Engine(platform, ledger, settings, owner="watch-timer")
            sweep_id = ledger.start_sweep(True, owner="reconciliation")

            retried = asyncio.create_task(
                reconcile(sweep, cid, Trigger.SWEEP, sweep_id=sweep_id, apply=True, caps=_one_close())
            )
            await _until_the_clock_jumped(emulator, started, "the closing text never left")
            await platform.read(cid, {})  # any answer's Date: this process sees the clock moved on
            looked = await reconcile(
                timer, cid, Trigger.EVENT, sweep_id=sweep_id, apply=True, caps=_one_close()
            )
            return await retried, looked

    retried, looked = asyncio.run(main())
    assert _texts_carried_out(emulator, cid) == 1, "the closing text was sent twice"
    assert looked.line.outcome is Outcome.FAILED and "may still land" in (looked.line.reason or ""), (
        looked.line
    )
    assert retried.line.outcome is Outcome.DONE, (retried.line.reason, retried.line.error)
    view = emulator.conversation(cid)
    assert all(
        p["state"] in ("disconnected", "terminated") or ended({"participants": [p]})
        for p in participants_by_purpose(view, "agent")
    ), view
    assert ledger.pending_steps() == []
    ledger.close()


def test_a_text_the_journal_knows_but_this_process_does_not_is_taken_for_sent(
    emulator: Any, tmp_path: Path
) -> None:
    """Found by the soak (docs/reliability.md, run S: a second closing text six hours after the first).
    Another process (a replica, or this one before a SIGKILL) sent the closing text and journalled its
    id, but died before the step's outcome. This process had loaded the reaper's own texts before that
    (the events mode loads them once, at start). Recovery compared the fresh journal with the stale
    copy: the text was a stranger's to the read (not the reaper's) and the journal's to the search
    for a text to adopt (so not adopted either), and the step was settled "not sent": a second text.
    The journal is the truth: the text is the reaper's, the step is done, and the close goes on with
    one text."""
    cid = emulator.create_conversation(SITUATIONS["customer-left"])["id"]
    settings = Settings.model_validate(
        {"sweep": {"ledger": f"sqlite:///{tmp_path / 'l.db'}", "verify_timeout": "5s"}}
    )
    ledger = Ledger.open(settings.sweep.ledger)
    (agent_id,) = [p["id"] for p in participants_by_purpose(emulator.conversation(cid), "agent")]

    async def main() -> Reconciled:
        async with connected(emulator, ledger) as platform:
            engine = Engine(platform, ledger, settings, owner="survivor")
            await engine.own.load(platform.now() - timedelta(days=1))  # as the events mode does at start
            # meanwhile the other process: its intent, its text, the text's id, and then it died
            dead = ledger.start_sweep(True, owner="dead-replica")
            decision = ledger.record_decision(dead, cid, decision="close", rule="customer-left", reason="x")
            ledger.step_intent(
                decision, cid, "closing-text", agent_id, at=emulator.now() - timedelta(minutes=5)
            )
            sent = emulator.message(cid, "agent", "This conversation is being closed.")
            ledger.record_reaper_message(cid, sent["id"], "closing")
            sweep_id = ledger.start_sweep(True, owner="survivor")
            caps = Caps(closes_left=2, teardowns_left=2)
            done = await reconcile(engine, cid, Trigger.EVENT, sweep_id=sweep_id, apply=True, caps=caps)
            # taken for a stranger's text, the close only waits: the rule's five minutes, once more
            emulator.advance(600)
            await platform.read(cid, {})  # any answer's Date: this process sees the clock moved on
            again = await reconcile(engine, cid, Trigger.EVENT, sweep_id=sweep_id, apply=True, caps=caps)
            return done if done.line.outcome is Outcome.DONE else again

    done = asyncio.run(main())
    assert _texts_carried_out(emulator, cid) == 0, "the closing text was sent a second time"
    assert done.line.outcome is Outcome.DONE, (done.line.reason, done.line.error)
    assert ledger.pending_steps() == []
    view = emulator.conversation(cid)
    assert all(
        p["state"] in ("disconnected", "terminated") or ended({"participants": [p]})
        for p in participants_by_purpose(view, "agent")
    ), view
    ledger.close()
