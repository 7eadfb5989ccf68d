"""A dry run shows everything in scope, every time: the saved read schedule never hides a conversation.

The schedule may spare a read (API cost), but then the conversation is listed as held back, with the
time it will be read again; `--fresh` reads every one of them, for a dry run and an applying sweep.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from tests.helpers.scenarios import customer, idle_chat, unended_ids, writes


def _recent_chat(minutes: int = 2) -> dict:
    spec = idle_chat(45)
    spec["participants"][0] = customer(ago=f"{minutes}m")
    return spec


def _reads(emulator, cid: str) -> int:
    return sum(1 for r in emulator.requests() if r["method"] == "GET" and r["path"].endswith(cid))


def _world(emulator) -> tuple[list[str], list[str]]:
    recent = [emulator.create_conversation(_recent_chat(m))["id"] for m in (1, 2, 5)]
    idle = [emulator.create_conversation(idle_chat(45))["id"] for _ in range(2)]
    return recent, idle


def _held_until(reason: str, now: datetime) -> datetime:
    found = re.search(r"not re-read before (\d\d:\d\d:\d\d) UTC \(read schedule", reason)
    assert found, reason
    clock = datetime.strptime(found.group(1), "%H:%M:%S").time()
    held = datetime.combine(now.date(), clock, tzinfo=now.tzinfo)
    # the reason gives a time of day only: the day is the one that puts it nearest to now (the platform
    # clock's time of day drifts with the session's advances, and may cross midnight)
    return min((held + timedelta(days=d) for d in (-1, 0, 1)), key=lambda t: abs(t - now))


def test_a_second_dry_run_lists_every_conversation_and_what_the_schedule_holds_back(emulator, reaper):
    recent, idle = _world(emulator)
    first = reaper.sweep(apply=False)
    emulator.clear_requests()

    second = reaper.sweep(apply=False)

    assert {ln["conversationId"] for ln in second.lines} == {ln["conversationId"] for ln in first.lines}
    assert {ln["conversationId"] for ln in second.lines} == set(recent) | set(idle)
    now = emulator.now()
    for minutes, cid in zip((1, 2, 5), recent, strict=True):
        line = second.line(cid)
        assert (line["decision"], line["outcome"]) == ("skip", "skipped")
        # idle's 30 minutes from the customer's last message: the time it could first act
        assert _held_until(line["reason"], now) >= now + timedelta(minutes=30 - minutes - 1)
        assert _reads(emulator, cid) == 0  # the schedule still spares the read
    assert all(second.line(cid)["outcome"] == "dry-run" for cid in idle)
    assert second.summary["scanned"] == 5
    assert writes(emulator.requests()) == []


def test_scan_twice_shows_the_same_conversations(emulator, reaper):
    recent, idle = _world(emulator)
    reaper.run("scan")

    again = reaper.run("scan")

    assert again.code == 0, again.stderr
    for cid in recent + idle:
        assert cid in again.stdout
    assert again.stdout.count("read schedule") == len(recent)
    assert "session-reaper sweep --apply" in again.stdout and "add --apply" not in again.stdout


def test_scan_after_an_applying_sweep_lists_everything_still_open(emulator, reaper):
    recent, idle = _world(emulator)
    applied = reaper.sweep()
    assert all(applied.line(cid)["outcome"] == "done" for cid in idle)

    scan = reaper.run("scan")
    dry = reaper.sweep(apply=False)

    still_open = unended_ids(emulator)
    assert still_open == set(recent)
    for cid in still_open:
        assert cid in scan.stdout
    assert {ln["conversationId"] for ln in dry.lines} == still_open


def test_fresh_reads_every_conversation_in_a_dry_run(emulator, reaper):
    recent, idle = _world(emulator)
    reaper.sweep(apply=False)
    emulator.clear_requests()

    fresh = reaper.run("sweep", "--json", "--fresh")

    for cid in recent:
        assert _reads(emulator, cid) == 1
        assert "read schedule" not in fresh.line(cid)["reason"]
        assert fresh.line(cid)["rule"] == "idle"
    assert {ln["conversationId"] for ln in fresh.lines} == set(recent) | set(idle)


def test_fresh_on_apply_reads_what_the_schedule_would_hold_back(emulator, reaper):
    recent, _ = _world(emulator)
    reaper.sweep()
    emulator.clear_requests()

    reaper.sweep()
    assert all(_reads(emulator, cid) == 0 for cid in recent)

    fresh = reaper.run("sweep", "--json", "--apply", "--fresh")

    assert all(_reads(emulator, cid) == 1 for cid in recent)
    assert {ln["conversationId"] for ln in fresh.lines} == set(recent)
    assert writes(emulator.requests()) == []  # read, and still nothing to do


def test_a_held_back_conversation_is_still_read_when_it_could_act(emulator, reaper):
    cid = emulator.create_conversation(_recent_chat(2))["id"]
    reaper.sweep(apply=False)
    emulator.advance(29 * 60)  # idle's 30 minutes have now passed since the guest's message

    dry = reaper.sweep(apply=False)

    assert dry.line(cid)["outcome"] == "dry-run" and dry.line(cid)["decision"] == "close"
