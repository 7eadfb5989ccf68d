"""SCENARIOS.md rows 15-18: rate limits, server errors, expired tokens, missing permissions."""

from __future__ import annotations

from datetime import datetime

from tests.helpers.scenarios import ended, idle_chat, writes


def _at(request):
    return datetime.fromisoformat(request["at"].replace("Z", "+00:00"))


def test_row15_429_with_retry_after_is_waited_out_exactly(emulator, reaper, conversation_view):
    ids = [emulator.create_conversation(idle_chat(45))["id"] for _ in range(3)]
    emulator.fault(method="PATCH", path=".*", status=429, retryAfter=2, times=5)

    run = reaper.sweep(config={"sweep": {"concurrency": 1}})

    assert run.code == 0, run.stderr
    assert all(run.line(cid)["outcome"] == "done" for cid in ids)
    assert all(ended(conversation_view(cid)) for cid in ids)
    log = [r for r in emulator.requests() if r.get("clientId") == "emulator"]
    limited = [i for i, r in enumerate(log) if r["status"] == 429]
    assert len(limited) == 5
    for i in limited:
        following = log[i + 1 :]
        assert following, "the reaper stopped after a 429"
        # Nothing at all is sent to the platform before Retry-After has passed.
        assert (_at(following[0]) - _at(log[i])).total_seconds() >= 1.9


def test_row16_server_errors_are_retried(emulator, reaper, conversation_view):
    cid = emulator.create_conversation(idle_chat(45))["id"]
    emulator.fault(method="PATCH", path=f"{cid}/participants/[^/]+$", status=503, times=2)

    run = reaper.sweep()

    assert run.code == 0, run.stderr
    assert run.line(cid)["outcome"] == "done"
    assert ended(conversation_view(cid))
    statuses = [
        r["status"]
        for r in writes(emulator.requests(), cid)
        if not r["path"].endswith("/attributes") and r["method"] == "PATCH"
    ]
    assert statuses[:3] == [503, 503, 202] or statuses[:3][:2] == [503, 503]


def test_row16_a_400_is_not_retried_and_is_reported(emulator, reaper):
    cid = emulator.create_conversation(idle_chat(45))["id"]
    emulator.fault(method="PATCH", path=".*/attributes$", status=400, times=10)

    run = reaper.sweep()

    assert run.code == 1
    line = run.line(cid)
    assert line["outcome"] == "failed"
    assert line.get("error")
    attempts = [r for r in writes(emulator.requests(), cid) if r["path"].endswith("/attributes")]
    assert len(attempts) == 1
    assert run.summary["failed"] == 1


def test_row17_an_expired_token_is_renewed_once(emulator, reaper, conversation_view):
    cid = emulator.create_conversation(idle_chat(45))["id"]
    emulator.fault(method="GET", path=f"/api/v2/conversations/{cid}$", status=401, times=1)

    run = reaper.sweep()

    assert run.code == 0, run.stderr
    assert run.line(cid)["outcome"] == "done"
    tokens = [r for r in emulator.requests() if r["path"] == "/oauth/token"]
    assert len(tokens) == 2


def test_row17_a_bad_secret_fails_fast_with_exit_3(emulator, reaper):
    emulator.create_conversation(idle_chat(45))
    reaper.client_secret = "wrong"

    run = reaper.sweep()

    assert run.code == 3
    assert "wrong" not in run.stderr and "wrong" not in run.stdout
    assert len([r for r in emulator.requests() if r["path"] == "/oauth/token"]) == 1
    assert [r for r in emulator.requests() if r["path"].startswith("/api/")] == []


def test_row18_missing_disconnect_permission_exits_3_and_names_it(emulator, reaper):
    ids = [emulator.create_conversation(idle_chat(45))["id"] for _ in range(5)]
    emulator.add_client(
        clientId="limited",
        clientSecret="limited-secret",
        permissions=[
            "analytics:conversationDetail:view",
            "conversation:communication:view",
            "conversation:message:view",
            "conversation:participant:attributesedit",
            "conversation:message:create",
        ],
    )
    reaper.client_id, reaper.client_secret = "limited", "limited-secret"

    run = reaper.sweep()

    assert run.code == 3
    assert "conversation:communication:disconnect" in run.stderr
    forbidden = [r["path"] for r in emulator.requests() if r["status"] == 403]
    assert forbidden, "the permission was never exercised"
    assert len(forbidden) == len(set(forbidden))  # no retry storm: never the same request twice
    assert len(forbidden) <= 5
    # Until one disconnect has gone through, closes take turns: one guest at most saw a write.
    touched = [cid for cid in ids if writes(emulator.requests(), cid)]
    assert len(touched) <= 1
