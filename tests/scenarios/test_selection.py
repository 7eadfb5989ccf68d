"""`sweep --only ID` and `sweep --plan FILE`: act on what was named or reviewed, nothing else.

Judged on the emulator's request log (no write, and no read at all, reaches a conversation that was not
named), the platform's state, the JSON lines and the exit code.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.scenarios import acd, agent, customer, ended, idle_chat, writes, zombie

ANALYTICS = "/api/v2/analytics/conversations/details/query"


def _recent_chat() -> dict:
    spec = idle_chat(45)
    spec["participants"][0] = customer(ago="2m")
    return spec


def _touched(emulator, conversation_id: str) -> list[dict]:
    return [r for r in emulator.requests() if conversation_id in r["path"]]


def _plan(reaper, path: Path | None = None, **kwargs) -> Path:
    """A reviewed dry run: `sweep --json` saved to a file, as an operator would."""
    run = reaper.sweep(apply=False, **kwargs)
    assert run.code == 0, run.stderr
    path = path or reaper.workdir / "plan.jsonl"
    path.write_text(run.stdout)
    return path


# ------------------------------------------------------------------------------------------------ --only


def test_only_acts_on_exactly_the_named_conversations_without_discovery(emulator, reaper, conversation_view):
    first, second, other = (emulator.create_conversation(idle_chat(45))["id"] for _ in range(3))
    emulator.clear_requests()

    run = reaper.run("sweep", "--json", "--apply", "--only", first, "--only", second)

    assert run.code == 0, run.stderr
    assert _touched(emulator, other) == []  # not even read
    assert not [r for r in emulator.requests() if r["path"] == ANALYTICS]  # read by id, no discovery
    assert {ln["conversationId"] for ln in run.lines} == {first, second}
    assert all(ln["outcome"] == "done" for ln in run.lines)
    assert ended(conversation_view(first)) and ended(conversation_view(second))
    assert not ended(conversation_view(other))


def test_only_reports_an_id_that_does_not_exist_and_goes_on(emulator, reaper, conversation_view):
    real = emulator.create_conversation(idle_chat(45))["id"]

    run = reaper.run("sweep", "--json", "--apply", "--only", "no-such-conversation", "--only", real)

    assert run.code == 0, run.stderr
    missing = run.line("no-such-conversation")
    assert (missing["decision"], missing["outcome"]) == ("skip", "skipped")
    assert "not found" in missing["reason"]
    assert run.line(real)["outcome"] == "done" and ended(conversation_view(real))
    assert "Traceback" not in run.stderr


def test_only_still_applies_the_rules_and_the_scope(emulator, reaper):
    recent = emulator.create_conversation(_recent_chat())["id"]
    excluded = emulator.create_conversation(idle_chat(45, queueId="queue-sales"))["id"]
    scope = {"sweep": {"queues": {"include": [], "exclude": ["queue-sales"]}}}

    run = reaper.run("sweep", "--json", "--apply", "--only", recent, "--only", excluded, config=scope)

    assert run.code == 0, run.stderr
    assert run.line(recent)["decision"] == "skip"
    assert run.line(excluded)["decision"] == "skip" and "queue-sales" in run.line(excluded)["reason"]
    assert writes(emulator.requests()) == []


def test_only_without_apply_is_a_dry_run_of_those(emulator, reaper):
    named, other = (emulator.create_conversation(idle_chat(45))["id"] for _ in range(2))

    run = reaper.run("sweep", "--json", "--only", named)

    assert [ln["conversationId"] for ln in run.lines] == [named]
    assert run.line(named)["outcome"] == "dry-run"
    assert writes(emulator.requests()) == [] and _touched(emulator, other) == []


def test_only_keeps_the_read_schedule_of_the_others(emulator, reaper):
    recent = emulator.create_conversation(_recent_chat())["id"]
    idle = emulator.create_conversation(idle_chat(45))["id"]
    reaper.sweep(apply=False)  # schedules `recent` for later
    reaper.run("sweep", "--json", "--apply", "--only", idle)
    emulator.clear_requests()

    reaper.sweep()  # an applying sweep: the schedule saved before --only still holds `recent` back

    assert [r for r in _touched(emulator, recent) if r["method"] == "GET"] == []


def test_an_empty_only_is_a_usage_error(emulator, reaper):
    run = reaper.run("sweep", "--apply", "--only", " ")

    assert run.code == 2 and "--only" in run.stderr and "Traceback" not in run.stderr
    assert emulator.requests() == []


# ------------------------------------------------------------------------------------------------ --plan


def test_a_plan_acts_only_on_its_actionable_lines(emulator, reaper, conversation_view):
    idle = [emulator.create_conversation(idle_chat(45))["id"] for _ in range(2)]
    recent = emulator.create_conversation(_recent_chat())["id"]
    plan = _plan(reaper)
    lines = [json.loads(ln) for ln in plan.read_text().splitlines()]
    assert all("decidedAt" in ln for ln in lines if "conversationId" in ln)
    emulator.advance(40 * 60)  # by now `recent` is idle too, but it was not reviewed as a close
    late = emulator.create_conversation(idle_chat(45))["id"]  # nor was this one, created after
    emulator.clear_requests()

    run = reaper.run("sweep", "--json", "--apply", "--plan", str(plan))

    assert run.code == 0, run.stderr
    assert {ln["conversationId"] for ln in run.lines} == set(idle)
    for untouched in (recent, late):
        assert _touched(emulator, untouched) == []
    assert all(run.line(cid)["outcome"] == "done" and ended(conversation_view(cid)) for cid in idle)
    assert not ended(conversation_view(recent)) and not ended(conversation_view(late))


def _after_call_work() -> dict:
    return {
        "messageType": "webmessaging",
        "participants": [
            customer(state="disconnected", ago="20m", endedAgo="16m", disconnectType="peer"),
            acd(),
            agent(state="disconnected", ago="18m", endedAgo="16m", wrapupRequired=True, acwStartedAgo="15m"),
        ],
    }


def _abandoned_in_queue() -> dict:
    return {"messageType": "webmessaging", "participants": [customer(ago="40m"), acd(state="connected")]}


def test_a_plan_carries_out_every_kind_of_action_it_reviewed(emulator, reaper):
    config = {"close": {"warn_before": "5m", "wrapup_code": "code-abandoned"}}
    expected = {
        emulator.create_conversation(idle_chat(45))["id"]: ("idle", "warn"),
        emulator.create_conversation(zombie())["id"]: ("orphaned", "teardown"),
        emulator.create_conversation(_after_call_work())["id"]: ("acw-stuck", "wrapup"),
        emulator.create_conversation(_abandoned_in_queue())["id"]: ("queue-abandoned", "close"),
    }
    plan = _plan(reaper, config=config)
    emulator.advance(60)

    run = reaper.run("sweep", "--json", "--apply", "--plan", str(plan), config=config)

    assert run.code == 0, run.stderr
    for cid, (rule, decision) in expected.items():
        line = run.line(cid)
        assert (line["rule"], line["decision"], line["outcome"]) == (rule, decision, "done"), line
        assert writes(emulator.requests(), cid), f"nothing was sent for {decision}"


def test_a_line_whose_verdict_no_longer_holds_is_cancelled(emulator, reaper, conversation_view):
    spoke, left, ended_since, kept = (emulator.create_conversation(idle_chat(45)) for _ in range(4))
    plan = _plan(reaper)
    emulator.message(spoke["id"], "customer", "still here!")  # a message came
    guest = next(p["id"] for p in left["participants"] if p["purpose"] == "customer")
    emulator.leave(left["id"], guest)  # now it is customer-left's, not idle's
    reaper.run("sweep", "--json", "--apply", "--only", ended_since["id"])  # ended meanwhile
    emulator.advance(6 * 60)  # customer-left's 5 minutes have passed: also a close, by another rule
    emulator.clear_requests()

    run = reaper.run("sweep", "--json", "--apply", "--plan", str(plan))

    assert run.code == 0, run.stderr
    for cancelled in (spoke["id"], left["id"], ended_since["id"]):
        line = run.line(cancelled)
        assert (line["decision"], line["outcome"], line["rule"]) == ("close", "cancelled", "idle"), line
        assert writes(emulator.requests(), cancelled) == []
    assert "no longer holds" in run.line(spoke["id"])["reason"]
    assert "rule changed" in run.line(left["id"])["reason"]
    assert "customer-left" in run.line(left["id"])["reason"]
    assert "already ended" in run.line(ended_since["id"])["reason"]
    assert not ended(conversation_view(spoke["id"]))
    assert run.line(kept["id"])["outcome"] == "done"
    assert run.summary["cancelled"] == 3 and run.summary["closed"] == 1


def test_a_different_action_is_cancelled_not_carried_out(emulator, reaper):
    cid = emulator.create_conversation(idle_chat(45))["id"]
    plan = _plan(reaper)  # close
    emulator.clear_requests()

    warning_first = {"close": {"warn_before": "5m"}}
    run = reaper.run("sweep", "--json", "--apply", "--plan", str(plan), config=warning_first)

    line = run.line(cid)
    assert line["outcome"] == "cancelled" and "now warn" in line["reason"]
    assert writes(emulator.requests(), cid) == []  # not even the warning


def test_a_planned_conversation_that_is_gone_is_cancelled(emulator, reaper):
    real = emulator.create_conversation(idle_chat(45))["id"]
    plan = _plan(reaper)
    ghost = dict(json.loads(plan.read_text().splitlines()[0]), conversationId="conversation-gone")
    plan.write_text(plan.read_text() + json.dumps(ghost) + "\n")

    run = reaper.run("sweep", "--json", "--apply", "--plan", str(plan))

    assert run.code == 0, run.stderr
    assert run.line("conversation-gone")["outcome"] == "cancelled"
    assert "not found" in run.line("conversation-gone")["reason"]
    assert run.line(real)["outcome"] == "done"


def test_plan_and_only_narrow_each_other(emulator, reaper):
    planned = [emulator.create_conversation(idle_chat(45))["id"] for _ in range(3)]
    plan = _plan(reaper)
    unplanned = emulator.create_conversation(idle_chat(45))["id"]
    emulator.clear_requests()

    run = reaper.run(
        "sweep", "--json", "--apply", "--plan", str(plan), "--only", planned[1], "--only", unplanned
    )

    assert [ln["conversationId"] for ln in run.lines] == [planned[1]]
    assert run.line(planned[1])["outcome"] == "done"
    for other in (planned[0], planned[2], unplanned):
        assert _touched(emulator, other) == []


def test_a_plan_without_apply_is_its_dry_run(emulator, reaper):
    cid = emulator.create_conversation(idle_chat(45))["id"]
    plan = _plan(reaper)
    emulator.clear_requests()

    run = reaper.run("sweep", "--json", "--plan", str(plan))

    assert run.line(cid)["outcome"] == "dry-run"
    assert writes(emulator.requests()) == []


def test_a_stale_plan_is_refused_on_the_platforms_clock(emulator, reaper, conversation_view):
    cid = emulator.create_conversation(idle_chat(45))["id"]
    plan = _plan(reaper)
    emulator.advance(61 * 60)
    emulator.clear_requests()

    stale = reaper.run("sweep", "--json", "--apply", "--plan", str(plan))

    assert stale.code == 2, stale.stdout + stale.stderr
    assert str(plan) in stale.stderr and "--plan-max-age" in stale.stderr
    assert "Traceback" not in stale.stderr and stale.lines == []
    assert writes(emulator.requests()) == [] and not ended(conversation_view(cid))

    shorter = reaper.run("sweep", "--json", "--apply", "--plan", str(plan), "--plan-max-age", "30m")
    assert shorter.code == 2 and writes(emulator.requests()) == []

    longer = reaper.run("sweep", "--json", "--apply", "--plan", str(plan), "--plan-max-age", "2h")
    assert longer.code == 0, longer.stderr
    assert longer.line(cid)["outcome"] == "done" and ended(conversation_view(cid))


def test_a_plan_made_before_the_clock_was_set_back_is_refused(emulator, reaper):
    emulator.create_conversation(idle_chat(45))
    plan = _plan(reaper)
    emulator.set_clock(emulator.now().replace(year=emulator.now().year - 1))
    emulator.clear_requests()

    run = reaper.run("sweep", "--json", "--apply", "--plan", str(plan))

    assert run.code == 2 and "after the platform's clock" in run.stderr
    assert writes(emulator.requests()) == []


def _decision(cid: str = "c-1", **extra) -> str:
    line = {
        "conversationId": cid,
        "rule": "idle",
        "decision": "close",
        "outcome": "dry-run",
        "reason": "r",
        "steps": [],
        "decidedAt": "2026-01-01T00:00:00Z",
    }
    return json.dumps({**line, **extra})


def test_a_malformed_plan_is_a_usage_error_naming_the_file_and_line(emulator, reaper):
    no_id = json.dumps({"decision": "close", "rule": "idle", "decidedAt": "2026-01-01T00:00:00Z"})
    cases = {
        "not-json.jsonl": (f"{_decision()}\nthis is not json\n", ":2"),
        "empty.jsonl": ("", "no decision lines"),
        "summary-only.jsonl": ('{"summary":{"scanned":0}}\n', "no decision lines"),
        "no-id.jsonl": (f"{_decision()}\n\n{no_id}\n", ":3"),
        "no-time.jsonl": (_decision(decidedAt=None) + "\n", "decidedAt"),
        "bad-time.jsonl": (_decision(decidedAt="yesterday") + "\n", "decidedAt"),
        "array.jsonl": ("[1, 2]\n", ":1"),
    }
    for name, (text, said) in cases.items():
        path = reaper.workdir / name
        path.write_text(text)

        run = reaper.run("sweep", "--json", "--apply", "--plan", str(path))

        assert run.code == 2, (name, run.stdout, run.stderr)
        assert str(path) in run.stderr and said in run.stderr, (name, run.stderr)
        assert "Traceback" not in run.stderr
    missing = reaper.run("sweep", "--apply", "--plan", str(reaper.workdir / "absent.jsonl"))
    assert missing.code == 2 and "absent.jsonl" in missing.stderr
    assert emulator.requests() == []  # refused before anything was asked of the platform
