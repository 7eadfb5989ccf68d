"""Several organizations in one emulator: each client sees and acts on its own organization's
conversations only, `tokens/me` names the organization, and a fault can hit one client alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from genesys_emulator.client import platform_client
from genesys_emulator.traffic import TrafficGenerator, seed_demo

MESSAGES = "/api/v2/conversations/messages"
QUERY = "/api/v2/analytics/conversations/details/query"
OPEN_FILTER = [{"type": "and", "predicates": [{"dimension": "conversationEnd", "operator": "notExists"}]}]


def open_query(emulator: Any) -> dict[str, Any]:
    """Unended conversations of the last 20 days, as the reaper asks."""
    now = emulator.now()
    interval = f"{(now - timedelta(days=20)).isoformat()}/{(now + timedelta(days=1)).isoformat()}"
    return {
        "interval": interval.replace("+00:00", "Z"),
        "conversationFilters": OPEN_FILTER,
        "paging": {"pageSize": 100, "pageNumber": 1},
    }


def chat(emulator: Any, organization: str | None = None) -> str:
    spec: dict[str, Any] = {
        "participants": [{"purpose": "customer", "messages": [{"ago": "45m"}]}, {"purpose": "agent"}]
    }
    if organization is not None:
        spec["organization"] = organization
    return str(emulator.create_conversation(spec)["id"])


@pytest.fixture
def orgs(emulator: Any) -> Iterator[dict[str, httpx.Client]]:
    """A client of `acme`, one of `globex`: each on its own platform session."""
    clients = {}
    for org in ("acme", "globex"):
        answer = emulator.add_client(f"{org}-client", f"{org}-secret", organization=org)
        assert answer["organization"] == org
        clients[org] = platform_client(emulator.base_url, f"{org}-client", f"{org}-secret")
    yield clients
    for client in clients.values():
        client.close()


def open_ids(emulator: Any, client: httpx.Client) -> set[str]:
    answer = client.post(QUERY, json=open_query(emulator))
    assert answer.status_code == 200, answer.text
    return {c["conversationId"] for c in answer.json().get("conversations", [])}


def test_each_client_finds_only_its_organizations_conversations(
    emulator: Any, orgs: dict[str, httpx.Client]
) -> None:
    acme = {chat(emulator, "acme"), chat(emulator, "acme")}
    globex = {chat(emulator, "globex")}
    default = {chat(emulator)}

    assert open_ids(emulator, orgs["acme"]) == acme
    assert open_ids(emulator, orgs["globex"]) == globex
    assert open_ids(emulator, emulator.platform) == default  # the default organization's client, as before
    assert emulator.conversation(next(iter(globex)))["organization"] == "globex"
    assert emulator.conversation(next(iter(default)))["organization"] == "default"


def test_another_organizations_conversation_is_404_to_reads_and_writes(
    emulator: Any, orgs: dict[str, httpx.Client]
) -> None:
    theirs = chat(emulator, "globex")
    conv = emulator.conversation(theirs)
    agent = next(p for p in conv["participants"] if p["purpose"] == "agent")
    acme = orgs["acme"]

    answers = [
        acme.get(f"{MESSAGES}/{theirs}"),
        acme.get(f"/api/v2/conversations/{theirs}"),
        acme.patch(f"{MESSAGES}/{theirs}", json={"state": "disconnected"}),
        acme.patch(f"{MESSAGES}/{theirs}/participants/{agent['id']}", json={"state": "disconnected"}),
        acme.post(f"/api/v2/conversations/{theirs}/disconnect"),
    ]

    assert [a.status_code for a in answers] == [404] * 5
    assert {a.json()["code"] for a in answers} == {"not.found"}
    # untouched: still open for its own organization, which can read and close it
    globex = orgs["globex"]
    assert {p["state"] for p in globex.get(f"{MESSAGES}/{theirs}").json()["participants"]} == {"connected"}
    assert globex.patch(f"{MESSAGES}/{theirs}", json={"state": "disconnected"}).status_code == 200
    assert emulator.conversation(theirs)["participants"][1]["state"] == "disconnected"


def test_tokens_me_names_each_clients_organization(emulator: Any, orgs: dict[str, httpx.Client]) -> None:
    acme = orgs["acme"].get("/api/v2/tokens/me").json()
    globex = orgs["globex"].get("/api/v2/tokens/me").json()
    default = emulator.platform.get("/api/v2/tokens/me").json()

    assert acme["organization"]["name"] == "acme"
    assert acme["homeOrganization"] == acme["organization"]
    assert acme["OAuthClient"]["organization"] == acme["organization"]
    assert globex["organization"]["name"] == "globex"
    assert len({acme["organization"]["id"], globex["organization"]["id"], default["organization"]["id"]}) == 3
    # the id is the organization's for good: the same after the client is registered anew
    emulator.add_client("acme-client", "acme-secret", organization="acme")
    again = platform_client(emulator.base_url, "acme-client", "acme-secret")
    with again:
        assert again.get("/api/v2/tokens/me").json()["organization"] == acme["organization"]


def test_a_fault_scoped_to_one_client_leaves_the_others_served(
    emulator: Any, orgs: dict[str, httpx.Client]
) -> None:
    mine, theirs = chat(emulator, "acme"), chat(emulator, "globex")
    fault = emulator.fault(path="/api/v2/", status=503, clientId="acme-client")
    assert fault["clientId"] == "acme-client"

    acme_answers = [
        orgs["acme"].get(f"{MESSAGES}/{mine}"),
        orgs["acme"].post(QUERY, json=open_query(emulator)),
    ]
    globex_answers = [
        orgs["globex"].get(f"{MESSAGES}/{theirs}"),
        orgs["globex"].post(QUERY, json=open_query(emulator)),
    ]

    assert [a.status_code for a in acme_answers] == [503, 503]
    assert [a.status_code for a in globex_answers] == [200, 200]
    by_client: dict[str, list[int]] = {}
    for entry in emulator.requests():
        if entry["path"] == "/oauth/token":  # each client's login, before the fault
            continue
        by_client.setdefault(entry["clientId"], []).append(entry["status"])
    assert by_client == {"acme-client": [503, 503], "globex-client": [200, 200]}
    emulator.clear_faults()
    assert orgs["acme"].get(f"{MESSAGES}/{mine}").status_code == 200


def test_a_trigger_scoped_to_one_client_fires_on_its_requests_only(
    emulator: Any, orgs: dict[str, httpx.Client]
) -> None:
    mine = chat(emulator, "acme")
    emulator.trigger(
        path=f"{MESSAGES}/{mine}$",
        clientId="acme-client",
        action={"type": "message", "conversationId": mine, "text": "still here"},
    )

    orgs["globex"].get(f"{MESSAGES}/{mine}")  # another org's request: a 404, and no trigger
    assert len(emulator.conversation(mine)["participants"][0]["messages"]) == 1
    orgs["acme"].get(f"{MESSAGES}/{mine}")
    assert len(emulator.conversation(mine)["participants"][0]["messages"]) == 2


def test_rate_limits_stay_per_client_whatever_the_organization(emulator: Any) -> None:
    emulator.add_client("acme-slow", "s", organization="acme", rateLimitPerMinute=2)
    emulator.add_client("acme-fast", "f", organization="acme", rateLimitPerMinute=100)
    slow = platform_client(emulator.base_url, "acme-slow", "s")
    fast = platform_client(emulator.base_url, "acme-fast", "f")
    with slow, fast:
        slow_answers = [slow.get("/api/v2/tokens/me").status_code for _ in range(3)]
        fast_answers = [fast.get("/api/v2/tokens/me").status_code for _ in range(3)]

    assert slow_answers == [200, 200, 429]
    assert fast_answers == [200, 200, 200]


def test_a_bad_organization_is_refused_naming_the_field(emulator: Any) -> None:
    answer = httpx.post(
        f"{emulator.base_url}/emulator/v1/conversations",
        json={"organization": "", "participants": [{"purpose": "customer"}]},
    )
    assert answer.status_code == 400
    assert "organization" in answer.json()["message"]
    answer = httpx.post(
        f"{emulator.base_url}/emulator/v1/clients",
        json={"clientId": "x", "clientSecret": "y", "organization": 7},
    )
    assert answer.status_code == 400
    assert "organization" in answer.json()["message"]


def test_the_traffic_generator_and_demo_seed_fill_one_organization(
    emulator: Any, orgs: dict[str, httpx.Client]
) -> None:
    seeded = seed_demo(emulator, seed=3, organization="globex")
    generated = TrafficGenerator(emulator, seed=1, arrivals_per_hour=600, organization="acme").step(600)

    assert generated and seeded
    assert {emulator.conversation(cid)["organization"] for cid in generated} == {"acme"}
    assert {emulator.conversation(cid)["organization"] for cid in seeded} == {"globex"}
    assert open_ids(emulator, orgs["acme"]) <= set(generated)
    assert open_ids(emulator, orgs["globex"]) <= set(seeded)
    assert open_ids(emulator, emulator.platform) == set()
