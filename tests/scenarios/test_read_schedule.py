"""A conversation that cannot become eligible before T is not read again before T — across runs.

`sweep` is often run by cron, once a minute: the schedule lives in the ledger between runs.
"""

from __future__ import annotations

from datetime import timedelta

from tests.helpers.scenarios import customer, idle_chat


def _reads(emulator, cid: str) -> int:
    return sum(1 for r in emulator.requests() if r["method"] == "GET" and r["path"].endswith(cid))


def _recent_chat() -> dict:
    spec = idle_chat(45)
    spec["participants"][0] = customer(ago="2m")
    return spec


def test_not_read_again_before_it_could_become_eligible(emulator, reaper, conversation_view):
    created = emulator.create_conversation(_recent_chat())
    cid = created["id"]
    guest = next(p["id"] for p in created["participants"] if p["purpose"] == "customer")

    first = reaper.sweep()
    assert first.line(cid)["decision"] == "skip"
    assert _reads(emulator, cid) == 1

    emulator.clear_requests()
    emulator.advance(10 * 60)  # idle could act 28 minutes after the first read, not sooner
    second = reaper.sweep()

    assert all(ln["conversationId"] != cid for ln in second.lines)
    assert _reads(emulator, cid) == 0

    # The guest leaves: discovery's analytics answer shows it, so it is read at once ...
    emulator.leave(cid, guest)
    third = reaper.sweep()

    assert third.line(cid)["rule"] == "customer-left"
    assert third.line(cid)["decision"] == "skip"
    assert _reads(emulator, cid) == 1

    # ... and closed as soon as customer-left's five minutes have passed, not at idle's thirty.
    emulator.advance(5 * 60 + 5)
    fourth = reaper.sweep()

    assert fourth.line(cid)["outcome"] == "done"


def test_messages_alone_do_not_bring_a_read_forward(emulator, reaper):
    cid = emulator.create_conversation(_recent_chat())["id"]
    reaper.sweep()
    emulator.clear_requests()
    for _ in range(3):
        emulator.advance(60)
        emulator.message(cid, "customer", "still typing")
        reaper.sweep()

    assert _reads(emulator, cid) == 0


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
