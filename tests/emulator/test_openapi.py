"""Schemathesis against the emulator's own OpenAPI document, over HTTP on loopback.

Every operation the document lists (platform routes, the OAuth token route, the admin API) is called
with generated bodies, parameters and paths, valid and invalid. Whatever comes in, the emulator must
answer without a 5xx, as its document says, and every error in the platform's error shape (the OAuth
server's own errors in OAuth's shape, as the login host answers). The run is bounded and repeatable:
derandomized (a fixed seed) and a few examples per operation.

The fuzzer may inject faults, add clients or move the clock: it gets an emulator of its own, and each
case starts from an emptied world with a fresh token.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from genesys_emulator import admin
from genesys_emulator.errors import error_body
from genesys_emulator.openapi import OPENAPI_PATH
from genesys_emulator.server import EmulatorServer

PLATFORM_ERROR_KEYS = set(error_body(400, "x", "x"))
OAUTH_ERROR_KEYS = {"error", "description", "error_description"}
EXAMPLES = 12  # per operation and mode: ~36 operations x 2 modes, well under a minute here
BASIC = "Basic " + base64.b64encode(b"emulator:emulator-secret").decode()


@pytest.fixture(scope="module")
def fuzzed_emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(rate_limit=1_000_000) as server:
        yield server


@pytest.fixture
def fresh_world(fuzzed_emulator: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fuzzed_emulator.base_url, timeout=30) as admin:
        admin.post("/emulator/v1/reset").raise_for_status()
        yield admin


# The document as the emulator serves it, built in-process to enumerate the operations at collection.
SCHEMA = schemathesis.openapi.from_dict(admin.document())
OPERATIONS = {op.label: op for op in (result.ok() for result in SCHEMA.get_all_operations())}
RAW = admin.document()["paths"]


def _has_input(label: str) -> bool:
    method, path = label.split(" ", 1)
    operation = RAW[path][method.lower()]
    query = [p for p in operation.get("parameters", []) if p["in"] == "query"]
    return bool(query or operation.get("requestBody"))


# Negative cases need something that can be wrong: a body or a query parameter (any path segment is a
# valid string, so an operation with only path parameters has no invalid input to generate).
CASES = [(label, GenerationMode.POSITIVE) for label in sorted(OPERATIONS)] + [
    (label, GenerationMode.NEGATIVE) for label in sorted(OPERATIONS) if _has_input(label)
]


def _headers(path: str, admin_client: httpx.Client) -> dict[str, str]:
    if path == "/oauth/token":
        return {"Authorization": BASIC}
    if not path.startswith("/api/"):
        return {}
    token = admin_client.post(
        "/oauth/token",
        content="grant_type=client_credentials",
        headers={"Authorization": BASIC, "Content-Type": "application/x-www-form-urlencoded"},
    )
    token.raise_for_status()
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


# A conversation the fuzzer's path parameters can name: random ids only ever reach the 404 branch.
KNOWN_CONVERSATION = {
    "id": "fuzz-conversation",
    "queueId": "fuzz-queue",
    "participants": [
        {"id": "fuzz-customer", "purpose": "customer", "state": "connected", "messages": [{"ago": "5m"}]},
        {"id": "fuzz-agent", "purpose": "agent", "state": "connected", "wrapupRequired": True},
    ],
}


def _aim_at_known_ids(case: Any, admin_client: httpx.Client, headers: dict[str, str]) -> None:
    """Point the case's path parameters at the known conversation, its agent and its communication."""
    admin_client.post("/emulator/v1/queues", json={"id": "fuzz-queue", "name": "Fuzz"}).raise_for_status()
    admin_client.post("/emulator/v1/conversations", json=KNOWN_CONVERSATION).raise_for_status()
    view = admin_client.get("/api/v2/conversations/fuzz-conversation", headers=headers).json()
    agent = next(p for p in view["participants"] if p["id"] == "fuzz-agent")
    channel = admin_client.post("/api/v2/notifications/channels", headers=headers).json()
    known = {
        "channel_id": channel["id"],
        "cid": "fuzz-conversation",
        "conversation_id": "fuzz-conversation",
        "pid": "fuzz-agent",
        "participant_id": "fuzz-agent",
        "commid": agent["messages"][0]["id"],
        "qid": "fuzz-queue",
    }
    case.path_parameters = {name: known.get(name, value) for name, value in case.path_parameters.items()}


def _judge(case: Any, base_url: str, admin_client: httpx.Client, aim: bool) -> None:
    admin_client.post("/emulator/v1/reset").raise_for_status()
    try:
        headers = _headers(case.path, admin_client)
        if aim and case.path_parameters:
            _aim_at_known_ids(case, admin_client, headers or _headers("/api/", admin_client))
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
        if response.status_code >= 400 and case.method != "HEAD":  # a HEAD answer has no body
            body = response.json()
            oauth = case.path == "/oauth/token" and response.status_code in (400, 401)
            expected = OAUTH_ERROR_KEYS if oauth else PLATFORM_ERROR_KEYS
            assert set(body) == expected, (case.method, case.path, response.status_code, body)
            if not oauth:
                assert body["status"] == response.status_code
    finally:
        # what the fuzzer injected (faults with long latencies, triggers) must not reach the next case
        admin_client.delete("/emulator/v1/faults")
        admin_client.delete("/emulator/v1/triggers")


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{label} {mode.value}" for label, mode in CASES])
def test_no_5xx_and_every_error_in_the_platform_shape(
    label: str, mode: GenerationMode, fresh_world: httpx.Client, fuzzed_emulator: EmulatorServer
) -> None:
    @given(case=OPERATIONS[label].as_strategy(generation_mode=mode), aim=st.booleans())
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,  # the same cases on every run: a fixed seed
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any, aim: bool) -> None:
        _judge(case, fuzzed_emulator.base_url, fresh_world, aim)

    run()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v2/no/such/route"),
        ("DELETE", "/api/v2/conversations/messages/abc"),
        ("PUT", "/emulator/v1/clock"),
        ("GET", "/emulator/v1/nothing"),
        ("GET", "/emulator/openapi.json"),
        ("GET", "/docs"),
    ],
)
def test_unknown_routes_and_methods_answer_in_the_platform_shape(
    method: str, path: str, fresh_world: httpx.Client
) -> None:
    answer = fresh_world.request(method, path)
    assert answer.status_code in (404, 405)
    assert set(answer.json()) == PLATFORM_ERROR_KEYS
    assert answer.json()["status"] == answer.status_code


def test_the_document_describes_every_route_the_emulator_serves(fresh_world: httpx.Client) -> None:
    from genesys_emulator import platform

    document = fresh_world.get(OPENAPI_PATH).json()
    paths = document["paths"]
    for path, method, _operation, permissions in platform.ROUTES:
        operation = paths[path][method.lower()]
        assert operation.get("x-permissions", []) == list(permissions)
        assert operation["responses"]["default"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"
        }
    assert "post" in paths["/oauth/token"]
    for route in ("/emulator/v1/faults", "/emulator/v1/conversations", "/emulator/v1/clock"):
        assert "post" in paths[route]
    # the platform namespace holds only what the platform serves: no document there
    assert not any(p.startswith("/api/") and "openapi" in p for p in paths)
    assert fresh_world.get("/api/v2/openapi.json").status_code == 404


_CUSTOMER = {"purpose": "customer", "state": "connected"}


@pytest.mark.parametrize(
    ("path", "body", "named"),
    [
        # what schemathesis found: each was a 500 (OverflowError) before the emulator bounded its clock
        ("/emulator/v1/clock", {"advanceSeconds": 1.1166972468614376e308}, "advanceSeconds"),
        ("/emulator/v1/clock", {"advanceSeconds": 10**400}, "advanceSeconds"),
        ("/emulator/v1/clock", {"set": "9999-12-31T23:59:59Z"}, "set"),
        ("/emulator/v1/clock", {"set": "0001-01-01T00:00:00+01:00"}, "set"),
        (
            "/emulator/v1/conversations",
            {"startedAgo": 1.7976931348623155e308, "participants": [_CUSTOMER]},
            "startedAgo",
        ),
        (
            "/emulator/v1/conversations",
            {"participants": [{**_CUSTOMER, "messages": [{"ago": 9e255}]}]},
            "ago",
        ),
        (
            "/emulator/v1/conversations",
            {"participants": [{**_CUSTOMER, "messages": [{"ago": "99999999d"}]}]},
            "ago",
        ),
        ("/emulator/v1/conversations", {"participants": [{**_CUSTOMER, "startedAgo": True}]}, "startedAgo"),
        ("/emulator/v1/triggers", {"action": {"type": "advance", "seconds": 1e300}}, "seconds"),
    ],
)
def test_out_of_range_times_are_a_400_naming_the_field(
    path: str, body: dict[str, Any], named: str, fresh_world: httpx.Client
) -> None:
    before = fresh_world.get("/emulator/v1/clock").json()["now"]
    answer = fresh_world.post(path, content=json.dumps(body))
    assert answer.status_code == 400, answer.text
    assert set(answer.json()) == PLATFORM_ERROR_KEYS
    assert named in answer.json()["message"]
    assert fresh_world.get("/emulator/v1/clock").json()["now"][:4] == before[:4]  # the clock did not move
