"""What the watch does with a re-check's result and with events, on a fake platform clock.

No platform, no socket: the watch is given stand-ins that only tell the time (its constructor makes
no call), and is handed `Reconciled` results and `ConversationEvent`s as `reconcile` and the adapter
would give them. What is asserted is the picture's timers: when the conversation is looked at next.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import cast

import pytest

from session_reaper.config import Settings
from session_reaper.core.model import Conversation
from session_reaper.core.results import DecisionLine, Outcome
from session_reaper.core.rules import evaluate
from session_reaper.engine.ledger_outage import LEDGER_LOST_REASON
from session_reaper.engine.ports import ConversationEvent, EventsPort, JournalPort, PlatformPort
from session_reaper.engine.reconcile import Reconciled, Trigger
from session_reaper.engine.watch import RETRY_FAILED, Watch
from tests.helpers.clocks import T0, FakeClock
from tests.helpers.snapshots import acd, agent, chat, customer, idle_chat, minutes

TOPIC = "v2.routing.queues.queue-support.conversations.messages"


class Clocked:
    """A platform (or journal) stand-in that only tells the time."""

    def __init__(self, clock: FakeClock[datetime]) -> None:
        self.now = clock
        self.clock = clock


def watch(clock: FakeClock[datetime], settings: Settings | None = None) -> Watch:
    stand_in = Clocked(clock)
    return Watch(
        cast(PlatformPort, stand_in),
        cast(JournalPort, stand_in),
        cast(EventsPort, object()),
        settings or Settings(),
        apply=True,
    )


def reconciled(
    conversation: Conversation | None, now: datetime, outcome: Outcome, decision: str = "skip"
) -> Reconciled:
    verdict = evaluate(conversation, now, Settings().policy()) if conversation is not None else None
    line = DecisionLine("conv-1", verdict.rule if verdict else None, decision, outcome, "")
    return Reconciled(line, verdict, now, Trigger.EVENT, conversation)


def event(conversation: Conversation) -> ConversationEvent:
    return ConversationEvent(TOPIC, conversation, conversation.activities[-1].at)


def fire(w: Watch, now: datetime) -> list[str]:
    return w.picture.pop_due(now)


def test_an_early_timer_is_armed_again_at_what_the_re_read_says() -> None:
    clock = FakeClock(T0)
    w = watch(clock)
    w._event(event(idle_chat(20, now=T0)))  # eligible in 10 minutes
    clock.advance(minutes=10)
    assert fire(w, clock()) == ["conv-1"]
    # the re-read shows a message the picture missed, written 2 minutes ago: not idle yet
    fresh = chat(customer("connected", 2), acd(), agent("connected", 31), now=clock())
    w._settle("conv-1", reconciled(fresh, clock(), Outcome.SKIPPED))
    assert w.picture.next_due() == clock() + minutes(28)


def test_the_same_snapshot_re_read_at_an_earlier_platform_time_is_armed_again() -> None:
    clock = FakeClock(T0)
    w = watch(clock)
    snapshot = idle_chat(20, now=T0)
    w._event(event(snapshot))
    assert fire(w, T0 + minutes(10)) == ["conv-1"]  # our clock ran ahead of the platform's
    w._settle("conv-1", reconciled(snapshot, T0 + minutes(9), Outcome.SKIPPED))  # the Date says 9 minutes
    assert w.picture.next_due() == T0 + minutes(10)


@pytest.mark.parametrize(
    "outcome",
    [Outcome.FAILED, Outcome.DEFERRED],  # the platform failed; another replica holds an open intent
)
def test_a_re_check_that_could_not_read_is_tried_again_in_a_minute(outcome: Outcome) -> None:
    clock = FakeClock(T0)
    w = watch(clock)
    w._event(event(idle_chat(45, now=T0)))
    assert fire(w, T0) == ["conv-1"]
    w._settle("conv-1", reconciled(None, T0, outcome))
    assert w.picture.next_due() == T0 + RETRY_FAILED


def test_a_conversation_gone_from_the_platform_drops_out() -> None:
    w = watch(FakeClock(T0))
    w._event(event(idle_chat(45, now=T0)))
    fire(w, T0)
    w._settle("conv-1", reconciled(None, T0, Outcome.SKIPPED))
    assert "conv-1" not in w.picture


def test_a_dry_run_or_a_cap_does_not_read_again_until_something_changes() -> None:
    clock = FakeClock(T0)
    w = watch(clock)
    idle = idle_chat(45, now=T0)
    w._event(event(idle))
    fire(w, T0)
    w._settle("conv-1", reconciled(idle, T0, Outcome.DRY_RUN, "close"))
    assert w.picture.next_due() is None and "conv-1" in w.picture
    clock.advance(minutes=1)
    wrote = chat(customer("connected", 0), acd(), agent("connected", 46), now=clock())
    w._event(event(wrote))  # the guest wrote: followed again
    assert w.picture.next_due() == clock() + minutes(30)


def test_a_close_done_drops_the_conversation_and_ignores_the_echoes_of_its_own_writes() -> None:
    clock = FakeClock(T0)
    w = watch(clock)
    idle = idle_chat(45, now=T0)
    w._event(event(idle))
    fire(w, T0)
    w._settle("conv-1", reconciled(idle, T0, Outcome.DONE, "close"))
    assert "conv-1" not in w.picture
    customer_leg = idle.participants[0]
    annotated = replace(
        idle, participants=(replace(customer_leg, attributes={"reaper.rule": "idle"}), *idle.participants[1:])
    )
    w._event(event(annotated))  # our annotate, arriving after the close
    assert "conv-1" not in w.picture and w.picture.next_due() is None
    clock.advance(minutes=2)
    wrote = chat(customer("connected", 0), acd(), agent("connected", 48), now=clock())
    w._event(event(wrote))  # someone wrote after the close: followed again
    assert w.picture.next_due() == clock() + minutes(30)


def test_the_read_schedule_learns_the_picture_s_timer_for_a_conversation_the_sweep_read() -> None:
    clock = FakeClock(T0)
    w = watch(clock)
    w.not_before.remember("conv-1", T0 + minutes(10), None, "fingerprint")
    clock.advance(minutes=5)
    wrote = chat(customer("connected", 0), acd(), agent("connected", 26), now=clock())
    w._event(event(wrote))
    entry = w.not_before.until["conv-1"]
    assert entry.until == clock() + minutes(30) and entry.participants_fingerprint == "fingerprint"


def test_a_sweep_that_decided_a_due_conversation_leaves_it_to_its_events() -> None:
    w = watch(FakeClock(T0))
    idle = idle_chat(45, now=T0)
    done = reconciled(idle, T0, Outcome.DRY_RUN, "close")
    w.seen(replace(done, trigger=Trigger.SWEEP))
    assert "conv-1" in w.picture and w.picture.next_due() is None


def test_a_chat_the_events_show_whole_is_not_read_by_a_reconciliation_before_its_timer() -> None:
    clock = FakeClock(T0)
    w = watch(clock)
    w._event(event(idle_chat(20, now=T0)))  # never read by a sweep; eligible in 10 minutes
    assert not w.not_before.due("conv-1", T0 + minutes(9))  # the reconciliation leaves it alone
    assert w.not_before.due("conv-1", T0 + minutes(10))  # from its threshold on, a sweep may read it too


def test_after_a_gap_in_the_events_the_next_reconciliation_reads_them_all_again() -> None:
    clock = FakeClock(T0)
    w = watch(clock)
    w._event(event(idle_chat(20, now=T0)))
    w._forget_what_events_said()  # what the listener does on a disconnect or a reconnect
    assert w.not_before.due("conv-1", T0 + minutes(1))  # events may have been missed: read it
    # an entry a sweep made (it read the conversation) is left as it is by later events' forgetting
    w.not_before.remember("conv-2", T0 + minutes(30), None, "fingerprint")
    w._forget_what_events_said()
    assert not w.not_before.due("conv-2", T0 + minutes(1), None, "fingerprint")


def test_after_a_gap_a_conversation_a_sweep_read_since_its_first_event_keeps_its_schedule() -> None:
    """Every new chat is first seen in an event; once a sweep has read it, a reconnect must not send the
    next reconciliation to read it again (a reconnect re-read thousands of conversations so)."""
    clock = FakeClock(T0)
    w = watch(clock)
    w._event(event(idle_chat(20, now=T0)))  # first seen in its events
    w.not_before.remember("conv-1", T0 + minutes(10), None, "fingerprint")  # then read by a sweep
    w._forget_what_events_said()
    assert not w.not_before.due("conv-1", T0 + minutes(1), None, "fingerprint")
    assert w.not_before.due("conv-1", T0 + minutes(1), None, "another")  # analytics shows a change: read


def test_after_a_gap_a_conversation_a_reconciliation_passed_over_keeps_its_schedule() -> None:
    """Run S: a reconciliation after a reconnect still read 3,440 conversations. Every new chat is first
    seen in an event, and a reconciliation that finds it not due passes over it unread: it never got
    analytics' participants fingerprint, so every gap forgot it and the next reconciliation read them
    all. A reconciliation that passes over a conversation while no event can have been missed keeps
    analytics' fingerprint with the entry: after a gap it holds unless analytics shows a change."""
    clock = FakeClock(T0)
    w = watch(clock)
    w._event(event(idle_chat(20, now=T0)))  # first seen in its events; eligible in 10 minutes
    assert not w.not_before.due("conv-1", T0 + minutes(1), None, "fingerprint")  # passed over
    w._forget_what_events_said()
    assert not w.not_before.due("conv-1", T0 + minutes(2), None, "fingerprint")
    assert w.not_before.due("conv-1", T0 + minutes(2), None, "another")  # someone joined or left: read


def closed_into_after_call_work(now: datetime) -> Conversation:
    """The idle chat just after the reaper's disconnect: the agent gone, owing a wrap-up (the queue
    requires one), the guest still there."""
    return chat(
        customer("connected", 46),
        acd(),
        agent("disconnected", 47, ended=0, wrapup_required=True, acw_started=0),
        now=now,
    )


def test_a_close_that_leaves_the_agent_in_after_call_work_is_followed_to_its_wrap_up() -> None:
    """Found by the week's soak: a re-check's close put the conversation among those whose late events
    are our own writes' echoes, and so also ignored the one that showed the agent in after-call work
    (a wrap-up owed). It had no timer; only a reconciliation found it, a median of 7 h later (5,805
    wrap-ups so). That event is followed: the timer is armed at the `acw-stuck` threshold."""
    clock = FakeClock(T0)
    w = watch(clock, Settings.model_validate({"close": {"wrapup_code": "code-follow-up"}}))
    idle = idle_chat(45, now=T0)
    w._event(event(idle))
    fire(w, T0)
    w._settle("conv-1", reconciled(idle, T0, Outcome.DONE, "close"))
    clock.advance(minutes=1)
    w._event(event(closed_into_after_call_work(clock())))  # our disconnect's echo: a wrap-up owed
    assert w.picture.next_due() == clock() + minutes(10)


def test_a_sweep_s_close_does_not_clear_the_timer_its_own_disconnect_armed() -> None:
    """Found by the week's soak: a reconciliation's close is followed by its disconnect's event, which
    shows the agent in after-call work and arms a timer for the wrap-up. When the sweep then handed in
    what it had read (before the close), the watch cleared any timer already due as "the sweep just
    decided it", this one too (an act takes virtual minutes at 120x): 420 wrap-ups waited for the next
    reconciliation. A timer armed from a snapshot newer than the sweep's read is kept."""
    clock = FakeClock(T0)
    w = watch(clock, Settings.model_validate({"close": {"wrapup_code": "code-follow-up"}}))
    read = idle_chat(45, now=T0)  # what the sweep read and closed
    clock.advance(minutes=1)
    w._event(event(closed_into_after_call_work(clock())))  # seen while the sweep verifies
    clock.advance(minutes=11)  # the act's verification took that long on the platform's clock
    w.seen(replace(reconciled(read, clock(), Outcome.DONE, "close"), trigger=Trigger.SWEEP))
    due = w.picture.next_due()
    assert due is not None and due <= clock()  # still armed, and due: the wrap-up is looked at now


def test_a_conversation_a_lost_ledger_cut_off_in_a_reconciliation_is_looked_at_again_in_a_minute() -> None:
    """Was: a conversation whose act a lost ledger cut off during a reconciliation (fix 38) kept no timer,
    and waited for its next event or the next reconciliation (10 minutes by default)."""
    clock = FakeClock(T0)
    w = watch(clock)
    w._event(
        event(chat(customer("connected", 5), acd(), agent("connected", 6), now=T0))
    )  # not due for 25 min
    clock.advance(minutes=3)
    cut_off = reconciled(None, clock(), Outcome.FAILED)
    cut_off.line.reason = LEDGER_LOST_REASON
    w.seen(replace(cut_off, trigger=Trigger.SWEEP))
    assert w.picture.next_due() == clock() + RETRY_FAILED


def test_a_conversation_whose_read_failed_in_a_reconciliation_is_left_to_the_next_one() -> None:
    """Not the same minute for every read a 5xx storm failed: the reconciliation after reads them."""
    clock = FakeClock(T0)
    w = watch(clock)
    w._event(event(chat(customer("connected", 5), acd(), agent("connected", 6), now=T0)))
    clock.advance(minutes=3)
    w.seen(replace(reconciled(None, clock(), Outcome.FAILED), trigger=Trigger.SWEEP))
    assert w.picture.next_due() == T0 + minutes(25)
