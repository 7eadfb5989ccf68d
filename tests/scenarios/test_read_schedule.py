"""A conversation that cannot become eligible before T is not read again before T — across runs.

`sweep` is often run by cron, once a minute: the schedule lives in the ledger between runs.
"""

from __future__ import annotations

from datetime import timedelta

from tests.scenarios.helpers import customer, idle_chat


def _reads(emulator, cid: str) -> int:
    return sum(1 for r in emulator.requests() if r["method"] == "GET" and r["path"].endswith(cid))


def _recent_chat() -> dict:
    spec = idle_chat(45)
    spec["participants"][0] = customer(ago="2m")
    return spec


def test_not_read_again_before_it_could_become_eligible(emulator, reaper):
    cid = emulator.create_conversation(_recent_chat())["id"]

    first = reaper.sweep()
    assert first.line(cid)["decision"] == "skip"
    assert _reads(emulator, cid) == 1

    emulator.clear_requests()
    emulator.advance(4 * 60)  # a guest leaving now would make customer-left act 5 minutes later
    second = reaper.sweep()

    assert all(ln["conversationId"] != cid for ln in second.lines)
    assert _reads(emulator, cid) == 0

    emulator.advance(2 * 60)
    third = reaper.sweep()

    assert third.line(cid)["decision"] == "skip"
    assert _reads(emulator, cid) == 1


def test_a_changed_policy_reads_at_once(emulator, reaper):
    cid = emulator.create_conversation(_recent_chat())["id"]
    reaper.sweep()

    changed = reaper.sweep(config={"rules.idle": {"after": "1m"}})

    assert changed.line(cid)["outcome"] == "done"


def test_a_platform_clock_set_back_reads_at_once(emulator, reaper):
    cid = emulator.create_conversation(_recent_chat())["id"]
    reaper.sweep()
    # Back 30 minutes: the conversation (started an hour ago) is still found, the schedule is not used.
    earlier = emulator.now() - timedelta(minutes=30)
    emulator.set_clock(earlier.isoformat().replace("+00:00", "Z"))

    again = reaper.sweep()

    assert again.line(cid)["decision"] == "skip"


def test_a_new_conversation_under_a_known_id_is_read(emulator, reaper):
    spec = _recent_chat()
    spec["id"] = "conversation-reused-id"
    emulator.create_conversation(spec)
    reaper.sweep()
    emulator.reset()
    emulator.advance(60)
    emulator.create_conversation({**idle_chat(45), "id": "conversation-reused-id"})

    run = reaper.sweep()

    assert run.line("conversation-reused-id")["outcome"] == "done"
