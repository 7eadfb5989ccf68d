"""The console's live view, explain, close now and exempt, over real HTTP against a running `serve`.

Time is the emulator's virtual clock: conversations are created already idle, and the clock is
advanced, never slept through.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from session_reaper.ledger import Ledger
from session_reaper.ledger.schema import console_actions, decisions
from tests.console.console_harness import customer_attributes, ended, idle_chat


def test_the_live_view_lists_each_conversation_with_its_rule_reason_countdown_and_plan(
    console: Any, emulator: Any
) -> None:
    stale = emulator.create_conversation(idle_chat(45))["id"]
    waiting = emulator.create_conversation(idle_chat(20, queue="queue-sales"))["id"]
    console.start()  # a dry run: it shows what would be done
    entry = console.wait_entry(stale)
    assert entry["rule"] == "idle" and entry["decision"] == "close" and entry["outcome"] == "dry-run"
    # 45 minutes at creation; the platform's Date has whole seconds, so the reaper may see 44m 59s
    assert entry["reason"].startswith(("no message for 45m", "no message for 44m"))
    assert entry["secondsUntilEligible"] == 0
    assert entry["wouldDo"] == ["annotate", "closing-text", "disconnect:agent", "verify"]
    assert {p["purpose"]: p["state"] for p in entry["participants"]} == {
        "customer": "connected",
        "acd": "disconnected",
        "agent": "connected",
    }
    assert any(p["name"] == "Ada Guest" for p in entry["participants"])
    assert entry["exempt"] is False and entry["pendingDecisionId"] is None
    later = console.wait_entry(waiting)
    assert later["rule"] == "idle" and later["decision"] == "skip"
    # at most 10 minutes to go on the platform's clock, which runs on while the test does
    assert 0 < later["secondsUntilEligible"] <= 600
    listed = console.call("GET", "/api/console/conversations").json()
    now = datetime.fromisoformat(listed["now"].replace("Z", "+00:00"))
    row = next(c for c in listed["conversations"] if c["conversationId"] == waiting)
    eligible_at = datetime.fromisoformat(row["eligibleAt"].replace("Z", "+00:00"))
    assert abs((eligible_at - now).total_seconds() - row["secondsUntilEligible"]) <= 1.0
    assert later["wouldDo"] == ["annotate", "closing-text", "disconnect:agent", "verify"]  # if closed now
    # filters
    assert [c["conversationId"] for c in console.conversations(queue="queue-sales")] == [waiting]
    assert {c["conversationId"] for c in console.conversations(rule="idle")} == {stale, waiting}
    assert console.conversations(rule="orphaned") == []
    # the countdown follows the platform's clock (as the next answer's Date header tells it)
    emulator.advance(300)
    console.serve.wait_until(
        lambda: 0 < console.entry(waiting)["secondsUntilEligible"] <= 300,  # type: ignore[index]
        "the countdown to follow the platform's clock",
    )
    # a conversation that ended drops out after the next pass
    emulator.platform.patch(f"/api/v2/conversations/messages/{stale}", json={"state": "disconnected"})
    console.wait_passes()
    assert console.entry(stale) is None


def test_one_conversation_is_explained_with_timeline_and_exact_calls(console: Any, emulator: Any) -> None:
    cid = emulator.create_conversation(idle_chat(45))["id"]
    console.start()
    answer = console.call("GET", f"/api/console/conversations/{cid}")
    assert answer.status_code == 200, answer.text
    view = answer.json()
    assert view["conversationId"] == cid and view["rule"] == "idle" and view["decision"] == "close"
    kinds = [(e["purpose"], e["kind"]) for e in view["timeline"]]
    assert ("customer", "message") in kinds and ("agent", "message") in kinds and ("acd", "left") in kinds
    assert [e["at"] for e in view["timeline"]] == sorted(e["at"] for e in view["timeline"])
    agent = next(p["id"] for p in view["participants"] if p["purpose"] == "agent")
    assert view["calls"][0] == (
        f"GET /api/v2/conversations/messages/{cid} (re-check: cancel if anything changed)"
    )
    assert (
        f'PATCH /api/v2/conversations/messages/{cid}/participants/{agent} {{"state":"disconnected"}}'
        in (view["calls"])
    )
    missing = console.call("GET", "/api/console/conversations/no-such-conversation")
    assert missing.status_code == 404 and missing.json()["error"] == "not-found"


def test_close_now_ends_a_conversation_not_yet_due_in_the_operators_name(
    console: Any, emulator: Any, tmp_path: Any
) -> None:
    cid = emulator.create_conversation(idle_chat(5))["id"]  # idle closes after 30m: not due
    console.start()  # a dry run: only the operator acts
    assert console.wait_entry(cid)["decision"] == "skip"
    answer = console.call("POST", f"/api/console/conversations/{cid}/close", user="Grace Hopper")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["conversationId"] == cid and body["operator"] == "Grace Hopper"
    assert (body["rule"], body["decision"], body["outcome"]) == ("idle", "close", "done")
    assert body["steps"] == ["annotate", "closing-text", "disconnect:agent", "verify"]
    assert ended(emulator, cid)
    # the same engine: re-check before the disconnect, annotation, then the verification read
    paths = [f"{r['method']} {r['path']}" for r in emulator.requests() if cid in r["path"]]
    assert f"GET /api/v2/conversations/messages/{cid}" in paths
    assert customer_attributes(emulator, cid)["reaper.rule"] == "idle"
    assert console.entry(cid) is None  # closed: out of the live view at once
    with Ledger.open(console.serve.ledger_url) as ledger, ledger.engine.connect() as db:
        row = db.execute(
            select(decisions).where(decisions.c.conversation_id == cid, decisions.c.outcome == "done")
        ).one()
        assert row.operator == "Grace Hopper" and row.decision == "close"
        act = db.execute(select(console_actions).where(console_actions.c.conversation_id == cid)).one()
        assert (act.operator, act.action) == ("Grace Hopper", "close")
    history = console.call("GET", "/api/console/history?since=7d").json()
    assert history["actions"]["close"] == 1
    # journalled as a pass of one conversation: the report counts its cost (a dry-run serve: only it)
    assert history["sweeps"]["applied"] == 1 and history["apiRequests"] >= 4
    assert [(a["operator"], a["action"], a["conversationId"]) for a in history["consoleActions"]] == [
        ("Grace Hopper", "close", cid)
    ]
    # closing it again changes nothing on the platform
    again = console.call("POST", f"/api/console/conversations/{cid}/close", user="Grace Hopper")
    assert again.status_code == 200 and again.json()["outcome"] == "skipped"
    missing = console.call("POST", "/api/console/conversations/no-such-conversation/close")
    assert missing.status_code == 404


def test_exempt_writes_the_attribute_the_sweeps_skip_it_and_lifting_lets_it_close(
    console: Any, emulator: Any
) -> None:
    cid = emulator.create_conversation(idle_chat(20))["id"]  # due in 10 minutes
    console.start("--apply")
    console.wait_entry(cid)
    answer = console.call(
        "POST", f"/api/console/conversations/{cid}/exempt", user="Ada", json={"exempt": True}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"conversationId": cid, "exempt": True}
    assert customer_attributes(emulator, cid)["reaper.exempt"] == "true"
    emulator.advance(30 * 60)  # well past idle's 30m
    console.wait_passes()
    entry = console.wait_entry(cid, lambda e: e["exempt"], "exempt in the live view")
    assert entry["reason"].startswith("exempt") and entry["decision"] == "skip"
    assert not ended(emulator, cid)
    bad = console.call("POST", f"/api/console/conversations/{cid}/exempt", json={"exempt": "yes"})
    assert bad.status_code == 400
    lifted = console.call(
        "POST", f"/api/console/conversations/{cid}/exempt", user="Ada", json={"exempt": False}
    )
    assert lifted.json() == {"conversationId": cid, "exempt": False}
    assert customer_attributes(emulator, cid)["reaper.exempt"] == "false"
    console.serve.wait_until(lambda: ended(emulator, cid), "the next sweep to close it")
    history = console.call("GET", "/api/console/history?since=7d").json()
    assert [(a["operator"], a["action"]) for a in history["consoleActions"]] == [
        ("Ada", "exempt"),
        ("Ada", "lift-exempt"),
    ]
    assert "reaper.exempt=true" in history["consoleActions"][0]["detail"]


def test_history_answers_the_reports_figures_and_refuses_a_bad_period(console: Any, emulator: Any) -> None:
    emulator.create_conversation(idle_chat(45))
    console.start("--apply")
    console.serve.wait_until(
        lambda: console.call("GET", "/api/console/history?since=1d").json()["actions"]["close"] == 1,
        "the close in the history",
    )
    figures = console.call("GET", "/api/console/history?since=1d").json()
    assert figures["figures"]["closed"] == 1 and figures["closes"]["byRule"] == {"idle": 1}
    bad = console.call("GET", "/api/console/history?since=soon")
    assert bad.status_code == 400 and bad.json()["error"] == "bad-request"
