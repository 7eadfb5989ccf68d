"""The events mode's picture and timers, on a fake platform clock: no I/O, no sleeping."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from session_reaper.config import Settings
from session_reaper.engine.picture import PLATFORM_TIMER_GRACE, Picture, content_key
from tests.helpers.clocks import T0, FakeClock
from tests.helpers.snapshots import acd, agent, chat, customer, idle_chat, minutes


def picture() -> Picture:
    return Picture(Settings().policy())


def test_a_timer_is_armed_at_the_eligible_at_and_fires_only_then() -> None:
    clock = FakeClock(T0)
    seen = picture()
    observed = seen.observe(idle_chat(20, now=T0), clock())  # idle's 30m: eligible 10 minutes from now
    assert observed.fresh and observed.due == T0 + minutes(10)
    assert seen.armed == 1 and seen.next_due() == T0 + minutes(10)
    clock.advance(minutes=9, seconds=59)
    assert seen.pop_due(clock()) == []
    clock.advance(seconds=1)
    assert seen.pop_due(clock()) == ["conv-1"]
    assert seen.pop_due(clock()) == [] and seen.armed == 0  # fired once, not again


def test_a_newer_message_moves_the_timer_later() -> None:
    clock = FakeClock(T0)
    seen = picture()
    seen.observe(idle_chat(20, now=T0), clock())
    clock.advance(minutes=5)
    wrote = chat(customer("connected", 0), acd(), agent("connected", 26), now=clock())
    assert seen.observe(wrote, clock()).due == clock() + minutes(30)
    clock.advance(minutes=6)  # past the first timer's time: it was replaced
    assert seen.pop_due(clock()) == []
    assert seen.next_due() == T0 + minutes(35)


def test_duplicates_and_stragglers_change_nothing() -> None:
    clock = FakeClock(T0)
    seen = picture()
    old = idle_chat(20, now=T0)  # customer wrote 20 minutes ago
    new = chat(customer("connected", 20, 1), acd(), agent("connected", 21), now=T0)  # and again 1 minute ago
    assert content_key(old) < content_key(new)
    assert seen.observe(new, clock()).fresh
    assert not seen.observe(new, clock()).fresh  # the same event twice
    straggler = seen.observe(old, clock())  # an older event arriving late
    assert not straggler.fresh and straggler.due == T0 + minutes(29)
    assert seen.next_due() == T0 + minutes(29)  # still the newer snapshot's timer


def test_an_attribute_alone_is_taken_from_the_later_arrival() -> None:
    seen = picture()
    chat_now = idle_chat(20, now=T0)
    seen.observe(chat_now, T0)
    customer_leg = chat_now.participants[0]
    exempt = replace(customer_leg, attributes={"reaper.exempt": "true"})
    marked = replace(chat_now, participants=(exempt, *chat_now.participants[1:]))
    observed = seen.observe(marked, T0)
    assert observed.fresh and observed.due is None  # exempt: no timer, nothing makes it eligible
    assert seen.armed == 0 and "conv-1" in seen


def test_an_ended_conversation_drops_out() -> None:
    seen = picture()
    seen.observe(idle_chat(20, now=T0), T0)
    gone = chat(customer("disconnected", 20, ended=0), acd(), agent("disconnected", 21, ended=0), now=T0)
    assert seen.observe(gone, T0).ended
    assert len(seen) == 0 and seen.next_due() is None and seen.pop_due(T0 + timedelta(days=1)) == []


def test_a_conversation_due_now_fires_at_once() -> None:
    seen = picture()
    assert seen.observe(idle_chat(45, now=T0), T0).due == T0
    assert seen.pop_due(T0) == ["conv-1"]


def test_rearm_reevaluate_and_reminders() -> None:
    clock = FakeClock(T0)
    seen = picture()
    seen.observe(idle_chat(45, now=T0), clock())
    assert seen.pop_due(clock()) == ["conv-1"]
    seen.rearm("conv-1", None)  # the re-check acted: wait for its events
    assert seen.next_due() is None
    assert seen.reevaluate("conv-1", clock()) == T0  # the snapshot known still says: now
    seen.remind("conv-2", T0 + minutes(3))  # only the read schedule knows it
    seen.remind("conv-1", T0 + minutes(9))  # known: a reminder does not replace what events said
    assert seen.pop_due(clock()) == ["conv-1"]
    clock.advance(minutes=3)
    assert seen.pop_due(clock()) == ["conv-2"]


def test_the_count_of_timers_follows_every_change() -> None:
    seen = picture()
    for n in range(3):
        seen.observe(replace(idle_chat(20, now=T0), id=f"conv-{n}"), T0)
    seen.observe(replace(idle_chat(10, now=T0), id="conv-0"), T0)  # re-armed, still one timer
    seen.remind("conv-9", T0 + minutes(1))
    assert seen.armed == 4
    seen.drop("conv-1")
    assert seen.pop_due(T0 + minutes(1)) == ["conv-9"] and seen.armed == 2
    seen.rearm("conv-0", None)
    assert seen.armed == 1
    assert seen.prune(keep=set()) == 2  # conv-0 (no timer) and conv-9 (fired) are forgotten
    assert len(seen) == 1 and seen.armed == 1


def test_a_conversation_left_to_the_platforms_timer_is_looked_at_just_after_it() -> None:
    seen = picture()
    observed = seen.observe(idle_chat(45, now=T0, timer_in=5), T0)
    assert observed.due == T0 + minutes(5) + PLATFORM_TIMER_GRACE
