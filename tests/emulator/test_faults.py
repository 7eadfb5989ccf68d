"""Injected faults, triggers and the request log."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from genesys_emulator.client import AdminError

MESSAGES = "/api/v2/conversations/messages"


def idle(emulator: Any) -> str:
    spec = {"participants": [{"purpose": "customer", "messages": [{"ago": "45m"}]}, {"purpose": "agent"}]}
    return str(emulator.create_conversation(spec)["id"])


def test_a_fault_answers_matching_requests_a_number_of_times(emulator: Any) -> None:
    cid = idle(emulator)
    emulator.fault(method="GET", path=f"{MESSAGES}/{cid}$", status=429, retryAfter=2, times=2)

    answers = [emulator.platform.get(f"{MESSAGES}/{cid}") for _ in range(3)]

    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "2"
    assert answers[0].json()["code"] == "too.many.requests"
    assert emulator.platform.get(f"/api/v2/conversations/{cid}").status_code == 200  # other paths untouched
    log = emulator.requests()
    assert [r["status"] for r in log] == [429, 429, 200, 200]
    assert {r["clientId"] for r in log} == {"emulator"}


def test_a_fault_without_times_lasts_until_cleared_and_method_is_optional(emulator: Any) -> None:
    cid = idle(emulator)
    emulator.fault(path="/conversations/", status=503)

    assert emulator.platform.get(f"{MESSAGES}/{cid}").status_code == 503
    assert emulator.platform.patch(f"{MESSAGES}/{cid}", json={"state": "disconnected"}).status_code == 503
    emulator.clear_faults()
    assert emulator.platform.get(f"{MESSAGES}/{cid}").status_code == 200


def test_latency_delays_the_answer(emulator: Any) -> None:
    cid = idle(emulator)
    emulator.fault(method="GET", path=cid, latencyMs=300, times=1)

    started = time.monotonic()
    answer = emulator.platform.get(f"{MESSAGES}/{cid}")

    assert answer.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_a_trigger_acts_just_before_the_matching_request_is_served(emulator: Any) -> None:
    cid = idle(emulator)
    before = emulator.platform.get(f"{MESSAGES}/{cid}").json()
    emulator.trigger(
        method="GET",
        path=f"{MESSAGES}/{cid}$",
        times=1,
        action={"type": "message", "conversationId": cid, "from": "customer"},
    )

    during = emulator.platform.get(f"{MESSAGES}/{cid}").json()
    after = emulator.platform.get(f"{MESSAGES}/{cid}").json()

    def count(view: dict[str, Any]) -> int:
        return len(view["participants"][0]["messages"])

    assert (count(before), count(during), count(after)) == (1, 2, 2)


def test_bad_fault_and_trigger_bodies_say_what_is_wrong(emulator: Any) -> None:
    with pytest.raises(AdminError) as bad_path:
        emulator.fault(path="([", status=500)
    assert bad_path.value.status == 400 and "path" in bad_path.value.message
    with pytest.raises(AdminError) as nothing:
        emulator.fault(path=".*")
    assert "status" in nothing.value.message
    with pytest.raises(AdminError) as no_conversation:
        emulator.trigger(action={"type": "message"})
    assert "conversationId" in no_conversation.value.message


def test_the_request_log_has_no_bodies_and_skips_admin_routes(emulator: Any) -> None:
    cid = idle(emulator)
    agent = emulator.platform.get(f"/api/v2/conversations/{cid}").json()["participants"][1]
    emulator.platform.post(
        f"{MESSAGES}/{cid}/communications/{agent['messages'][0]['id']}/messages",
        json={"textBody": "secret words"},
    )
    emulator.message(cid, "customer", "private reply")

    log = emulator.requests()

    assert [(r["method"], r["status"]) for r in log] == [("GET", 200), ("POST", 202)]
    assert set(log[0]) == {"at", "method", "path", "status", "clientId"}
    assert "secret words" not in str(log) and "private reply" not in str(log)
    emulator.clear_requests()
    assert emulator.requests() == []


def test_a_trigger_can_move_the_clock_and_a_fault_can_hit_the_token_endpoint(emulator: Any) -> None:
    before = emulator.now()
    emulator.trigger(method="GET", path="/tokens/me", action={"type": "advance", "seconds": 3600})
    emulator.platform.get("/api/v2/tokens/me")
    assert (emulator.now() - before).total_seconds() >= 3600

    emulator.fault(method="POST", path="^/oauth/token$", status=503, times=1)
    token = httpx.post(
        f"{emulator.base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("emulator", "emulator-secret"),
    )
    assert token.status_code == 503


def _states(view: dict[str, Any]) -> list[Any]:
    found = []
    for participant in view["participants"]:
        found.append(participant.get("state"))
        for comm in participant.get("messages") or []:
            if isinstance(comm, dict) and "state" in comm:
                found.append(comm["state"])
    return found


@pytest.mark.parametrize("path", ["/api/v2/conversations/{cid}", MESSAGES + "/{cid}"])
def test_corrupt_spoils_the_answer_body_in_each_mode(emulator: Any, path: str) -> None:
    cid = idle(emulator)
    url = path.format(cid=cid)
    sound = emulator.platform.get(url)
    n = len(sound.json()["participants"])

    def spoiled(mode: str) -> httpx.Response:
        emulator.fault(method="GET", path=f"{cid}$", corrupt=mode, times=1)
        answer = emulator.platform.get(url)
        assert answer.status_code == 200  # a 2xx whose body cannot be trusted
        return answer

    truncated = spoiled("truncate")
    with pytest.raises(ValueError):
        truncated.json()
    assert len(truncated.content) < len(sound.content)
    assert set(_states(spoiled("drop-field").json())) == {None}
    assert isinstance(spoiled("wrong-type").json()["participants"], dict)
    assert set(_states(spoiled("unknown-enum").json())) <= {"quiescent", None}
    assert len(spoiled("huge-array").json()["participants"]) == 20_000 > n
    assert emulator.platform.get(url).json() == sound.json()  # used up: the next answer is sound


def test_corrupt_leaves_errors_alone_and_status_wins(emulator: Any) -> None:
    cid = idle(emulator)
    emulator.fault(method="GET", path=f"{cid}$", corrupt="truncate", status=503, times=1)
    answer = emulator.platform.get(f"{MESSAGES}/{cid}")
    assert answer.status_code == 503 and answer.json()["code"] == "service.unavailable"
    emulator.fault(method="GET", path="/nope$", corrupt="truncate", times=1)
    missing = emulator.platform.get(f"{MESSAGES}/nope")
    assert missing.status_code == 404 and missing.json()["code"] == "not.found"
    listed = emulator.fault(method="GET", path="x", corrupt="huge-array")
    assert listed["corrupt"] == "huge-array"


def test_an_unknown_corrupt_mode_is_refused(emulator: Any) -> None:
    with pytest.raises(AdminError) as refused:
        emulator.fault(path="x", corrupt="sideways")
    assert "corrupt" in str(refused.value)
