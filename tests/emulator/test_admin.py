"""The admin API: clock, conversation specs, bad input, reset, propagation delay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from genesys_emulator.client import AdminError, Emulator
from genesys_emulator.server import EmulatorServer


def test_the_virtual_clock_drives_the_date_header_and_timestamps(emulator: Any) -> None:
    emulator.set_clock("2030-06-01T12:00:00Z")
    emulator.advance(90)

    answer = emulator.platform.get("/api/v2/tokens/me")
    created = emulator.create_conversation(
        {"participants": [{"purpose": "customer", "messages": [{"ago": "10m"}]}]}
    )

    date = parsedate_to_datetime(answer.headers["Date"])
    assert abs((date - emulator.now()).total_seconds()) < 5
    assert date.year == 2030
    # the clock runs on in real time after the advance: a second or two may pass before each is stamped
    set_at = datetime(2030, 6, 1, 12, 1, 30, tzinfo=UTC)
    message_time = _stamp(created["participants"][0]["messages"][0]["messageTime"])
    assert timedelta(0) <= message_time - (set_at - timedelta(minutes=10)) < timedelta(seconds=5)
    assert timedelta(0) <= _stamp(emulator.requests()[0]["at"]) - set_at < timedelta(seconds=5)


def _stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_clock_runs_at_real_speed_and_only_advances_forward(emulator: Any) -> None:
    first = emulator.now()
    assert emulator.advance(3600) - first >= timedelta(hours=1)
    with pytest.raises(AdminError) as backwards:
        emulator.advance(-5)
    assert backwards.value.status == 400 and "advanceSeconds" in backwards.value.message


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"participants": []}, "participants"),
        ({"participants": [{"purpose": "robot"}]}, "purpose"),
        ({"participants": [{"purpose": "customer", "state": "sleeping"}]}, "state"),
        ({"participants": [{"purpose": "customer", "messages": [{"ago": "soon"}]}]}, "duration"),
        ({"participants": [{"purpose": "customer", "messages": [{}]}]}, "ago"),
        ({"participants": [{"purpose": "customer", "endedAgo": "5m"}]}, "endedAgo"),
        ({"participants": [{"purpose": "customer"}], "colour": "red"}, "colour"),
        ({"participants": [{"purpose": "customer"}], "messageType": "pigeon"}, "messageType"),
        (
            {
                "participants": [
                    {"purpose": "customer", "disconnectType": "vanished", "state": "disconnected"}
                ]
            },
            "disconnectType",
        ),
    ],
)
def test_bad_conversation_specs_are_400_naming_the_field(
    emulator: Any, body: dict[str, Any], named: str
) -> None:
    with pytest.raises(AdminError) as error:
        emulator.create_conversation(body)

    assert error.value.status == 400
    assert named in error.value.message


def test_bad_admin_bodies_are_400(emulator: Any) -> None:
    admin = f"{emulator.base_url}/emulator/v1"
    assert httpx.post(f"{admin}/clock", json={"advanceSeconds": "soon"}).status_code == 400
    assert httpx.post(f"{admin}/clock", json={"set": "tomorrow"}).status_code == 400
    assert httpx.post(f"{admin}/clock", content=b"{").status_code == 400
    assert httpx.post(f"{admin}/clients", json={"clientId": "x"}).status_code == 400
    assert httpx.post(f"{admin}/queues", json={"id": "q", "actionType": "EXPLODE"}).status_code == 400
    missing = httpx.post(f"{admin}/conversations/nope/messages", json={"from": "customer"})
    assert missing.status_code == 404


def test_a_spec_with_ids_times_and_wrapup_is_honoured(emulator: Any) -> None:
    now = emulator.now()
    created = emulator.create_conversation(
        {
            "id": "conv-1",
            "messageType": "whatsapp",
            "participants": [
                {
                    "id": "cust-1",
                    "purpose": "customer",
                    "name": "Ada",
                    "attributes": {"k": "v"},
                    "messages": [{"at": "2026-01-01T00:00:00Z"}],
                },
                {
                    "id": "agent-1",
                    "purpose": "agent",
                    "userId": "user-1",
                    "state": "disconnected",
                    "endedAgo": "3m",
                    "wrapupRequired": True,
                    "wrapup": {"code": "code-resolved", "notes": "ok"},
                },
            ],
        }
    )

    assert created["id"] == "conv-1"
    customer, agent = created["participants"]
    assert (customer["id"], customer["name"], customer["attributes"], customer["type"]) == (
        "cust-1",
        "Ada",
        {"k": "v"},
        "whatsapp",
    )
    assert customer["messages"][0]["messageTime"] == "2026-01-01T00:00:00.000Z"
    assert agent["user"]["id"] == "user-1" and agent["wrapup"]["notes"] == "ok"
    assert agent["endTime"] < now.isoformat()
    with pytest.raises(AdminError) as duplicate:
        emulator.create_conversation({"id": "conv-1", "participants": [{"purpose": "customer"}]})
    assert duplicate.value.status == 409


def test_reset_empties_the_world_but_keeps_clients(emulator: Any) -> None:
    emulator.add_client("kept", "kept-secret")
    cid = emulator.create_conversation({"participants": [{"purpose": "customer"}]})["id"]
    emulator.fault(path="x", status=500)

    emulator.reset()

    assert emulator.platform.get(f"/api/v2/conversations/{cid}").status_code == 404
    token = httpx.post(
        f"{emulator.base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("kept", "kept-secret"),
    )
    assert token.status_code == 200


def test_reads_see_a_change_after_the_propagation_delay() -> None:
    with EmulatorServer(propagation_delay=2) as server:
        emulator = Emulator(server.base_url)
        created = emulator.create_conversation(
            {"participants": [{"purpose": "customer", "messages": [{"ago": "45m"}]}, {"purpose": "agent"}]}
        )
        cid, agent = created["id"], created["participants"][1]["id"]
        url = f"/api/v2/conversations/messages/{cid}/participants/{agent}"

        assert emulator.platform.patch(url, json={"state": "disconnected"}).status_code == 202
        stale = emulator.platform.get(f"/api/v2/conversations/messages/{cid}").json()
        again = emulator.platform.patch(url, json={"state": "disconnected"})  # writes see the truth
        emulator.advance(2)
        fresh = emulator.platform.get(f"/api/v2/conversations/messages/{cid}").json()

        assert stale["participants"][1]["state"] == "connected"
        assert again.status_code == 400
        assert fresh["participants"][1]["state"] == "disconnected"
        emulator.close()
