"""The conversation state machine, driven over HTTP through the platform API and the admin API."""

from __future__ import annotations

from typing import Any

MESSAGES = "/api/v2/conversations/messages"


def chat(**extra: Any) -> dict[str, Any]:
    """Customer and agent connected, last message 45m ago, the acd leg long gone."""
    return {
        "queueId": "queue-support",
        "participants": [
            {"purpose": "customer", "messages": [{"ago": "45m", "text": "hello?"}]},
            {"purpose": "acd", "state": "disconnected", "startedAgo": "50m", "endedAgo": "46m"},
            {"purpose": "agent", "messages": [{"ago": "44m"}]},
        ],
        **extra,
    }


def leg(view: dict[str, Any], purpose: str, index: int = 0) -> dict[str, Any]:
    return [p for p in view["participants"] if p["purpose"] == purpose][index]


def test_created_conversation_has_the_platform_shapes(emulator: Any) -> None:
    created = emulator.create_conversation(chat())
    cid = created["id"]

    media = emulator.platform.get(f"{MESSAGES}/{cid}").json()
    generic = emulator.platform.get(f"/api/v2/conversations/{cid}").json()

    customer = leg(media, "customer")
    assert customer["state"] == "connected"
    assert customer["messages"][0]["messageStatus"] == "received"
    assert (
        customer["messages"][0]["messageTime"].endswith("Z")
        and len(customer["messages"][0]["messageTime"]) == 24
    )
    assert "text" not in customer["messages"][0]  # the platform never echoes texts; the admin view does
    assert leg(created, "customer")["messages"][0]["text"] == "hello?"
    assert leg(media, "acd")["disconnectType"] == "transfer"
    assert leg(media, "agent")["queue"]["id"] == "queue-support"
    agent = leg(generic, "agent")
    communication = agent["messages"][0]
    assert communication["state"] == "connected"
    assert communication["type"] == "webmessaging"
    assert communication["messages"][0]["messageStatus"] == "delivery-success"
    assert generic["startTime"] < customer["messages"][0]["messageTime"]
    assert "endTime" not in generic


def test_disconnecting_the_last_agent_ends_the_conversation(emulator: Any) -> None:
    cid = emulator.create_conversation(chat())["id"]
    agent = leg(emulator.platform.get(f"{MESSAGES}/{cid}").json(), "agent")

    answer = emulator.platform.patch(
        f"{MESSAGES}/{cid}/participants/{agent['id']}", json={"state": "DISCONNECTED"}
    )

    assert answer.status_code == 202
    view = emulator.platform.get(f"/api/v2/conversations/{cid}").json()
    assert leg(view, "agent")["messages"][0]["disconnectType"] == "client"
    customer = leg(view, "customer")["messages"][0]
    assert (customer["state"], customer["disconnectType"]) == ("disconnected", "peer")
    assert view["endTime"]
    again = emulator.platform.patch(
        f"{MESSAGES}/{cid}/participants/{agent['id']}", json={"state": "disconnected"}
    )
    assert again.status_code == 400
    assert again.json()["code"] == "conversation.participant.not.connected"


def test_customer_leaving_keeps_the_agent_attached(emulator: Any) -> None:
    cid = emulator.create_conversation(chat())["id"]
    customer = leg(emulator.platform.get(f"{MESSAGES}/{cid}").json(), "customer")

    emulator.platform.patch(f"{MESSAGES}/{cid}/participants/{customer['id']}", json={"state": "disconnected"})

    view = emulator.platform.get(f"{MESSAGES}/{cid}").json()
    assert leg(view, "customer")["state"] == "disconnected"
    assert leg(view, "agent")["state"] == "connected"


def test_after_call_work_waits_for_a_wrapup_then_the_conversation_ends(emulator: Any) -> None:
    spec = chat()
    spec["participants"][2]["wrapupRequired"] = True
    cid = emulator.create_conversation(spec)["id"]
    agent = leg(emulator.platform.get(f"/api/v2/conversations/{cid}").json(), "agent")

    emulator.platform.patch(f"{MESSAGES}/{cid}/participants/{agent['id']}", json={"state": "disconnected"})

    view = emulator.platform.get(f"/api/v2/conversations/{cid}").json()
    in_acw = leg(view, "agent")
    assert in_acw["startAcwTime"] and "endAcwTime" not in in_acw
    assert in_acw["messages"][0]["afterCallWork"]["state"] == "pending"
    assert "endTime" not in view
    emulator.advance(20 * 3600)  # no wrapupTimeoutMs: it waits forever
    assert "endTime" not in emulator.platform.get(f"/api/v2/conversations/{cid}").json()

    codes = emulator.platform.get(
        f"/api/v2/conversations/{cid}/participants/{agent['id']}/wrapupcodes"
    ).json()
    url = f"{MESSAGES}/{cid}/participants/{agent['id']}/communications/{agent['messages'][0]['id']}/wrapup"
    answer = emulator.platform.post(url, json={"code": codes[0]["id"], "notes": "done"})

    assert answer.status_code == 202
    view = emulator.platform.get(f"/api/v2/conversations/{cid}").json()
    wrapped = leg(view, "agent")
    assert wrapped["wrapup"]["code"] == codes[0]["id"] and wrapped["wrapup"]["notes"] == "done"
    assert wrapped["endAcwTime"] and view["endTime"]
    second = emulator.platform.post(url, json={"code": codes[1]["id"]})
    assert second.status_code == 409
    assert second.json()["code"] == "conversation.wrapup.already.applied"


def test_wrapup_timeout_applies_the_system_wrapup_at_its_due_time(emulator: Any) -> None:
    spec = chat()
    spec["participants"][2].update(wrapupRequired=True, wrapupTimeoutMs=120_000)
    cid = emulator.create_conversation(spec)["id"]
    agent = leg(emulator.platform.get(f"{MESSAGES}/{cid}").json(), "agent")
    emulator.platform.patch(f"{MESSAGES}/{cid}/participants/{agent['id']}", json={"state": "disconnected"})

    # A minute short of the 2-minute timeout, not a second: the clock runs on in real time meanwhile.
    emulator.advance(60)
    assert "endAcwTime" not in leg(emulator.platform.get(f"{MESSAGES}/{cid}").json(), "agent")
    emulator.advance(600)

    view = emulator.platform.get(f"/api/v2/conversations/{cid}").json()
    agent_view = leg(view, "agent")
    assert agent_view["wrapup"]["name"] == "ININ-WRAP-UP-TIMEOUT"
    started, ended = agent_view["startAcwTime"], agent_view["endAcwTime"]
    assert (
        int(ended[14:16]) * 60 + int(ended[17:19]) - int(started[14:16]) * 60 - int(started[17:19])
    ) % 3600 == 120
    assert view["endTime"] == ended


def test_disconnecting_the_conversation_ends_everyone(emulator: Any) -> None:
    cid = emulator.create_conversation(chat())["id"]

    answer = emulator.platform.patch(f"{MESSAGES}/{cid}", json={"state": "disconnected"})

    assert answer.status_code == 200
    assert answer.json()["endTime"]
    view = emulator.platform.get(f"{MESSAGES}/{cid}").json()
    assert {p["state"] for p in view["participants"]} == {"disconnected"}
    assert emulator.platform.patch(f"{MESSAGES}/{cid}", json={"state": "disconnected"}).status_code == 400


def test_teardown_ends_a_zombie_and_wraps_up_after_call_work(emulator: Any) -> None:
    spec = {
        "participants": [
            {"purpose": "customer", "state": "disconnected", "endedAgo": "20m", "messages": [{"ago": "25m"}]},
            {"purpose": "acd", "state": "connected"},
            {"purpose": "agent", "state": "disconnected", "endedAgo": "20m", "wrapupRequired": True},
        ]
    }
    cid = emulator.create_conversation(spec)["id"]

    answer = emulator.platform.post(f"/api/v2/conversations/{cid}/disconnect")

    assert answer.status_code == 202 and isinstance(answer.json(), str)
    view = emulator.platform.get(f"/api/v2/conversations/{cid}").json()
    assert leg(view, "acd")["messages"][0]["disconnectType"] == "system"
    assert leg(view, "agent")["wrapup"]["code"] == "7fb334b0-0e9e-11e4-9191-0800200c9a66"
    assert view["endTime"]


def test_attributes_merge_and_sending_a_message_is_activity(emulator: Any) -> None:
    cid = emulator.create_conversation(chat())["id"]
    view = emulator.platform.get(f"/api/v2/conversations/{cid}").json()
    customer, agent = leg(view, "customer"), leg(view, "agent")

    first = emulator.platform.patch(
        f"{MESSAGES}/{cid}/participants/{customer['id']}/attributes", json={"attributes": {"a": "1"}}
    )
    emulator.platform.patch(
        f"{MESSAGES}/{cid}/participants/{customer['id']}/attributes", json={"attributes": {"b": "2"}}
    )
    sent = emulator.platform.post(
        f"{MESSAGES}/{cid}/communications/{agent['messages'][0]['id']}/messages",
        json={"textBody": "Still there?"},
    )

    assert first.json() == {"attributes": {"a": "1"}}
    assert leg(emulator.platform.get(f"{MESSAGES}/{cid}").json(), "customer")["attributes"] == {
        "a": "1",
        "b": "2",
    }
    assert sent.status_code == 202
    data = sent.json()
    assert (data["direction"], data["status"], data["textBody"], data["conversationId"]) == (
        "outbound",
        "sent",
        "Still there?",
        cid,
    )
    messages = leg(emulator.platform.get(f"{MESSAGES}/{cid}").json(), "agent")["messages"]
    assert messages[-1]["messageId"] == data["id"] and messages[-1]["messageStatus"] == "sent"
    assert "Still there?" not in str(emulator.requests())


def test_queue_inactivity_timer_disconnects_and_is_reset_by_messages(emulator: Any) -> None:
    emulator.add_queue("queue-timed", "Timed", inactivityTimeoutSeconds=600)
    spec = chat(queueId="queue-timed")
    spec["participants"][0]["messages"] = [{"ago": "5m"}]
    spec["participants"][2]["messages"] = [{"ago": "6m"}]
    cid = emulator.create_conversation(spec)["id"]
    first = emulator.platform.get(f"{MESSAGES}/{cid}").json()["inactivityTimeout"]

    emulator.advance(240)  # 9m of silence
    emulator.message(cid, "customer", "still here")
    emulator.advance(300)  # 5m since the customer wrote: not yet

    view = emulator.platform.get(f"{MESSAGES}/{cid}").json()
    assert view["inactivityTimeout"] > first
    assert leg(view, "agent")["state"] == "connected"
    emulator.advance(301)
    view = emulator.platform.get(f"{MESSAGES}/{cid}").json()
    assert {(p["state"], p["disconnectType"]) for p in view["participants"] if p["purpose"] != "acd"} == {
        ("disconnected", "inactivity")
    }
    queue = emulator.platform.get("/api/v2/routing/queues/queue-timed").json()
    assert queue["mediaSettings"]["message"]["enableInactivityTimeout"] is True
    assert queue["mediaSettings"]["message"]["inactivityTimeoutSettings"]["timeoutSeconds"] == 600


def test_other_media_carry_their_own_communications(emulator: Any) -> None:
    spec = chat(mediaType="voice")
    cid = emulator.create_conversation(spec)["id"]

    view = emulator.platform.get(f"/api/v2/conversations/{cid}").json()

    assert all("calls" in p and "messages" not in p for p in view["participants"])
    assert emulator.platform.get(f"{MESSAGES}/{cid}").status_code == 404


def test_unknown_things_are_404_in_the_platform_shape(emulator: Any) -> None:
    for answer in (
        emulator.platform.get(f"{MESSAGES}/no-such-conversation"),
        emulator.platform.get("/api/v2/no/such/route"),
    ):
        assert answer.status_code == 404
        body = answer.json()
        assert set(body) >= {"message", "code", "status", "messageWithParams", "messageParams", "contextId"}
        assert body["code"] == "not.found"
        assert answer.headers["date"].endswith("GMT")
    wrong = emulator.platform.delete(f"{MESSAGES}/anything")
    assert wrong.status_code == 405 and wrong.json()["code"] == "method.not.allowed"


def test_a_participant_patch_can_carry_the_wrapup_and_the_disconnect(emulator: Any) -> None:
    spec = chat()
    spec["participants"][2]["wrapupRequired"] = True
    cid = emulator.create_conversation(spec)["id"]
    agent = leg(emulator.platform.get(f"{MESSAGES}/{cid}").json(), "agent")

    answer = emulator.platform.patch(
        f"{MESSAGES}/{cid}/participants/{agent['id']}",
        json={"state": "disconnected", "wrapup": {"code": "code-resolved", "notes": "done in chat"}},
    )

    assert answer.status_code == 202
    view = emulator.platform.get(f"/api/v2/conversations/{cid}").json()
    assert leg(view, "agent")["wrapup"]["notes"] == "done in chat"
    assert "startAcwTime" not in leg(view, "agent")  # wrapped up before leaving: no after-call work
    assert view["endTime"]


def test_a_wrapup_needs_the_participants_own_communication(emulator: Any) -> None:
    spec = chat()
    spec["participants"][2].update(state="disconnected", wrapupRequired=True, endedAgo="5m")
    cid = emulator.create_conversation(spec)["id"]
    view = emulator.platform.get(f"/api/v2/conversations/{cid}").json()
    agent, customer = leg(view, "agent"), leg(view, "customer")
    url = f"{MESSAGES}/{cid}/participants/{agent['id']}/communications/{customer['messages'][0]['id']}/wrapup"

    assert emulator.platform.post(url, json={"code": "code-resolved"}).status_code == 404
    good = url.replace(customer["messages"][0]["id"], agent["messages"][0]["id"])
    assert emulator.platform.post(good, json={"notes": "no code"}).status_code == 400


def test_a_conversations_own_propagation_delay_hides_its_changes_for_a_while(emulator: Any) -> None:
    slow = emulator.create_conversation(chat(propagationDelaySeconds=120))["id"]
    prompt = emulator.create_conversation(chat())["id"]

    for cid in (slow, prompt):
        assert emulator.platform.patch(f"{MESSAGES}/{cid}", json={"state": "disconnected"}).status_code == 200

    def states(cid: str) -> set[str]:
        return {p["state"] for p in emulator.platform.get(f"{MESSAGES}/{cid}").json()["participants"]}

    assert states(prompt) == {"disconnected"}  # the world's own delay is none
    assert "connected" in states(slow)  # accepted, not visible yet
    generic = emulator.platform.get(f"/api/v2/conversations/{slow}").json()
    assert not generic.get("endTime")
    emulator.advance(60)  # a minute short of the delay, not a second: the clock runs on in real time
    assert "connected" in states(slow)
    emulator.advance(61)
    assert states(slow) == {"disconnected"}
    # Writes act on the true state at once: a second disconnect is refused as already done.
    assert emulator.platform.patch(f"{MESSAGES}/{slow}", json={"state": "disconnected"}).status_code == 400
