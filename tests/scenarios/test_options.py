"""Configuration a contact center will change: scope, what may be done, and how much per sweep."""

from __future__ import annotations

from datetime import timedelta

from tests.helpers.scenarios import ended, idle_chat, writes, zombie


def test_queue_include_and_exclude_limit_the_scope(emulator, reaper, conversation_view):
    sales = emulator.create_conversation(idle_chat(45, queueId="queue-sales"))["id"]
    support = emulator.create_conversation(idle_chat(45, queueId="queue-support"))["id"]

    included = reaper.sweep(config={"sweep": {"queues": {"include": ["queue-sales"], "exclude": []}}})

    assert included.line(sales)["outcome"] == "done"
    assert not any(ln["conversationId"] == support and ln["outcome"] == "done" for ln in included.lines)
    assert writes(emulator.requests(), support) == []

    excluded = reaper.sweep(config={"sweep": {"queues": {"include": [], "exclude": ["queue-support"]}}})

    assert not any(ln["conversationId"] == support and ln["outcome"] == "done" for ln in excluded.lines)
    assert not ended(conversation_view(support))


def test_teardown_not_allowed_leaves_a_zombie_alone(emulator, reaper):
    cid = emulator.create_conversation(zombie())["id"]

    run = reaper.sweep(config={"close": {"allow_teardown": False}})

    assert run.line(cid)["decision"] == "skip"
    assert writes(emulator.requests(), cid) == []


def test_max_teardowns_caps_teardowns_per_sweep(emulator, reaper):
    ids = [emulator.create_conversation(zombie())["id"] for _ in range(3)]

    run = reaper.sweep(config={"sweep": {"max_teardowns": 1}})

    outcomes = sorted(run.line(cid)["outcome"] for cid in ids)
    assert outcomes == ["deferred", "deferred", "done"]
    # The conversations' own teardowns (the permission proof sends one on an id that cannot exist).
    requests = emulator.requests()
    teardowns = [r for cid in ids for r in writes(requests, cid) if r["path"].endswith("/disconnect")]
    assert len(teardowns) == 1


def test_annotate_false_writes_no_attributes(emulator, reaper, conversation_view):
    cid = emulator.create_conversation(idle_chat(45))["id"]

    run = reaper.sweep(config={"close": {"annotate": False}})

    assert run.line(cid)["outcome"] == "done"
    assert "annotate" not in run.line(cid)["steps"]
    assert not [r for r in writes(emulator.requests(), cid) if r["path"].endswith("/attributes")]
    assert ended(conversation_view(cid))


def test_a_disabled_rule_never_acts(emulator, reaper):
    cid = emulator.create_conversation(idle_chat(45))["id"]

    run = reaper.sweep(config={"rules.idle": {"enabled": False}})

    assert run.line(cid)["decision"] == "skip"
    assert writes(emulator.requests(), cid) == []


def test_platform_timer_can_be_overruled(emulator, reaper, conversation_view):
    due = (emulator.now() + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    cid = emulator.create_conversation(idle_chat(45, inactivityTimeout=due))["id"]

    run = reaper.sweep(config={"sweep": {"respect_platform_timer": False}})

    assert run.line(cid)["outcome"] == "done"
    assert ended(conversation_view(cid))


def test_custom_thresholds_apply(emulator, reaper):
    cid = emulator.create_conversation(idle_chat(12))["id"]

    default = reaper.sweep()
    custom = reaper.sweep(config={"rules.idle": {"after": "10m"}})

    assert default.line(cid)["decision"] == "skip"
    assert custom.line(cid)["outcome"] == "done"


def test_the_exempt_attribute_on_the_agent_counts_too(emulator, reaper):
    spec = idle_chat(45)
    spec["participants"][2]["attributes"] = {"do-not-close": "TRUE"}
    cid = emulator.create_conversation(spec)["id"]

    run = reaper.sweep(config={"sweep": {"exempt_attribute": "do-not-close"}})

    assert run.line(cid)["decision"] == "skip"
    assert writes(emulator.requests(), cid) == []


def test_sweep_json_lines_are_one_per_decided_conversation_then_the_summary(emulator, reaper):
    ids = [emulator.create_conversation(idle_chat(45))["id"] for _ in range(3)]

    run = reaper.sweep(apply=False)

    payloads = [line for line in run.stdout.splitlines() if line.strip()]
    assert '"summary"' in payloads[-1]
    assert {ln["conversationId"] for ln in run.lines} == set(ids)
    for line in run.lines:
        assert set(line) >= {"conversationId", "rule", "decision", "outcome", "reason", "steps"}
    assert run.summary["scanned"] == 3 and run.summary["eligible"] == 3
