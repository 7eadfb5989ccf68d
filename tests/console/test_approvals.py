"""Approve before closing: `[rules.idle] approval = true` against a running `serve --apply`.

The sweeps pend the decision (journalled as `pending`, nothing sent); an operator approves (the
engine re-checks, then closes) or rejects (never acted on for that decision); a decision nobody
answers expires after `[console] approval_ttl`, on the platform's virtual clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select

from session_reaper.ledger import Ledger
from session_reaper.ledger.schema import decisions
from tests.console.console_harness import TOKENS, Starter, ended, idle_chat
from tests.service.serve_harness import CLIENT_ID, CLIENT_SECRET, Serve

APPROVAL = '\n[rules.idle]\napproval = true\n\n[console]\napproval_ttl = "1h"\n'


def waiting(console: Any, cid: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        pending = console.call("GET", "/api/console/pending").json()["pending"]
        return next((p for p in pending if p["conversationId"] == cid), None)

    return console.serve.wait_until(found, f"a pending decision for {cid}")  # type: ignore[no-any-return]


def writes_to(console: Any, cid: str) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in console.writes() if cid in r["path"]]


def test_a_rule_with_approval_waits_and_an_approved_close_is_carried_out(console: Any, emulator: Any) -> None:
    cid = emulator.create_conversation(idle_chat(45))["id"]
    console.start("--apply", extra=APPROVAL)
    pending = waiting(console, cid)
    assert (pending["rule"], pending["decision"], pending["status"]) == ("idle", "close", "pending")
    # 45 minutes at creation; the platform's Date has whole seconds, so the reaper may see 44m 59s
    assert pending["reason"].startswith(("no message for 45m", "no message for 44m"))
    assert pending["queueId"] == "queue-support"
    console.wait_passes()
    assert writes_to(console, cid) == []  # waiting: nothing sent
    entry = console.entry(cid)
    assert entry is not None and entry["decision"] == "pending" and entry["outcome"] == "deferred"
    assert entry["pendingDecisionId"] == pending["decisionId"]
    # the same conversation stays one pending decision, pass after pass
    assert [p["decisionId"] for p in console.call("GET", "/api/console/pending").json()["pending"]] == [
        pending["decisionId"]
    ]
    answer = console.call(
        "POST", f"/api/console/pending/{pending['decisionId']}", user="Grace", json={"approve": True}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["status"], body["outcome"], body["operator"]) == ("approved", "done", "Grace")
    assert body["steps"] == ["annotate", "closing-text", "disconnect:agent", "verify"]
    assert ended(emulator, cid)
    assert console.call("GET", "/api/console/pending").json()["pending"] == []
    # approving twice acts once
    twice = console.call(
        "POST", f"/api/console/pending/{pending['decisionId']}", json={"approve": True}
    ).json()
    assert twice["status"] == "approved" and twice["outcome"] == "done"
    with Ledger.open(console.serve.ledger_url) as ledger, ledger.engine.connect() as db:
        rows = db.execute(select(decisions).where(decisions.c.conversation_id == cid)).all()
        assert {r.decision for r in rows} >= {"pending", "close"}
        done = [r for r in rows if r.outcome == "done"]
        assert len(done) == 1 and done[0].operator == "Grace"
    history = console.call("GET", "/api/console/history?since=1d").json()
    assert [(a["operator"], a["action"]) for a in history["consoleActions"]] == [("Grace", "approve")]


def test_a_rejected_decision_is_never_acted_on(console: Any, emulator: Any) -> None:
    cid = emulator.create_conversation(idle_chat(45))["id"]
    console.start("--apply", extra=APPROVAL)
    pending = waiting(console, cid)
    answer = console.call(
        "POST", f"/api/console/pending/{pending['decisionId']}", user="Ada", json={"approve": False}
    )
    assert answer.json()["status"] == "rejected" and "outcome" not in answer.json()
    emulator.advance(10 * 60)
    console.wait_passes(3)
    assert writes_to(console, cid) == []
    entry = console.entry(cid)
    assert entry is not None and "rejected by Ada" in entry["reason"]
    assert console.call("GET", "/api/console/pending").json()["pending"] == []
    late = console.call(
        "POST", f"/api/console/pending/{pending['decisionId']}", json={"approve": True}
    ).json()
    assert late["status"] == "rejected"  # a rejection stands: no approval afterwards
    assert writes_to(console, cid) == []


def test_a_pending_decision_expires_after_approval_ttl_on_the_platform_clock(
    console: Any, emulator: Any
) -> None:
    cid = emulator.create_conversation(idle_chat(45))["id"]
    console.start("--apply", extra=APPROVAL)
    first = waiting(console, cid)
    emulator.advance(61 * 60)
    console.wait_passes()
    late = console.call("POST", f"/api/console/pending/{first['decisionId']}", json={"approve": True}).json()
    assert late["status"] == "expired" and "outcome" not in late
    assert writes_to(console, cid) == []
    # still idle: a new decision waits, under another id
    renewed = waiting(console, cid)
    assert renewed["decisionId"] != first["decisionId"]


def test_an_approval_of_a_conversation_that_changed_since_is_cancelled(console: Any, emulator: Any) -> None:
    cid = emulator.create_conversation(idle_chat(45))["id"]
    console.start("--apply", extra=APPROVAL)
    pending = waiting(console, cid)
    emulator.message(cid, "customer")  # the guest wrote: no longer idle
    answer = console.call(
        "POST", f"/api/console/pending/{pending['decisionId']}", json={"approve": True}
    ).json()
    assert answer["status"] == "approved" and answer["outcome"] == "cancelled"
    assert "no longer holds" in answer["reason"]
    assert writes_to(console, cid) == []
    missing = console.call("POST", "/api/console/pending/no-such-decision", json={"approve": True})
    assert missing.status_code == 404


def test_sweep_json_shows_pending_lines_for_a_rule_with_approval(emulator: Any, tmp_path: Path) -> None:
    cid = emulator.create_conversation(idle_chat(45))["id"]
    config = tmp_path / "session-reaper.toml"
    config.write_text(f'[sweep]\nledger = "sqlite:///{tmp_path}/ledger.db"\n' + APPROVAL)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENESYSCLOUD_", "SESSION_REAPER_"))}
    env |= {
        "GENESYSCLOUD_API_URL": emulator.base_url,
        "GENESYSCLOUD_OAUTHCLIENT_ID": CLIENT_ID,
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": CLIENT_SECRET,
    }
    command = [
        sys.executable,
        "-m",
        "session_reaper.commands.cli",
        "sweep",
        "--apply",
        "--json",
        "--config",
        str(config),
    ]
    for _ in range(2):  # the second pass finds the same pending decision: one per conversation
        done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        lines = [json.loads(raw) for raw in done.stdout.splitlines()]
        line = next(x for x in lines if x.get("conversationId") == cid)
        assert (line["rule"], line["decision"], line["outcome"]) == ("idle", "pending", "deferred")
        assert "waiting for an operator's approval" in line["reason"]
    assert not [r for r in emulator.requests() if cid in r["path"] and r["method"] != "GET"]
    with Ledger.open(f"sqlite:///{tmp_path}/ledger.db") as ledger:
        assert len(ledger.pending_decisions(emulator.now())) == 1


def test_two_replicas_share_pending_decisions_through_the_ledger(
    console: Any, emulator: Any, tmp_path: Path
) -> None:
    cid = emulator.create_conversation(idle_chat(45))["id"]
    (tmp_path / "b").mkdir()
    other = Serve(emulator.base_url, tmp_path / "b")
    other.ledger_url = console.serve.ledger_url  # one ledger, two processes
    replica = Starter(other, emulator)
    try:
        console.start("--apply", extra=APPROVAL)
        replica.start("--apply", extra=APPROVAL)
        pending = waiting(console, cid)
        replica.wait_passes()
        assert replica.call("GET", "/api/console/pending").json()["pending"] == [pending]
        assert replica.entry(cid)["pendingDecisionId"] == pending["decisionId"]  # type: ignore[index]
        answer = replica.call(
            "POST", f"/api/console/pending/{pending['decisionId']}", user="Grace", json={"approve": True}
        )
        assert answer.json()["outcome"] == "done"
        assert ended(emulator, cid)
        assert console.call("GET", "/api/console/pending").json()["pending"] == []
        again = console.call(
            "POST", f"/api/console/pending/{pending['decisionId']}", json={"approve": True}
        ).json()
        assert again["status"] == "approved" and again["operator"] == "Grace"
        disconnects = [
            r
            for r in emulator.requests()
            if r["method"] == "PATCH"
            and f"{cid}/participants/" in r["path"]
            and "attributes" not in r["path"]
        ]
        assert len(disconnects) == 1  # the agent disconnected once, by one replica
    finally:
        other.stop()
    assert TOKENS["SESSION_REAPER_CONSOLE_TOKEN"] not in other.stderr()


def test_close_now_answers_the_decision_waiting_for_approval(console: Any, emulator: Any) -> None:
    cid = emulator.create_conversation(idle_chat(45))["id"]
    console.start("--apply", extra=APPROVAL)
    pending = waiting(console, cid)
    closed = console.call("POST", f"/api/console/conversations/{cid}/close", user="Grace").json()
    assert closed["outcome"] == "done" and closed["operator"] == "Grace"  # a person's close needs no approval
    assert ended(emulator, cid)
    assert console.call("GET", "/api/console/pending").json()["pending"] == []
    later = console.call(
        "POST", f"/api/console/pending/{pending['decisionId']}", json={"approve": True}
    ).json()
    assert (later["status"], later["outcome"], later["operator"]) == ("approved", "done", "Grace")
