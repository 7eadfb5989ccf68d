"""The emulator reports each OAuth client's own count on every answer: `inin-ratelimit-*`."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

ME = "/api/v2/tokens/me"


def client(emulator: Any, limit: int) -> tuple[str, httpx.Client]:
    client_id = f"count-{uuid.uuid4().hex[:8]}"
    emulator.add_client(client_id, "count-secret-1", rateLimitPerMinute=limit)
    answer = httpx.post(
        f"{emulator.base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, "count-secret-1"),
    )
    assert "inin-ratelimit-count" not in answer.headers  # the token endpoint is not counted
    bearer = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    return client_id, httpx.Client(base_url=emulator.base_url, headers=bearer)


def counted(answer: httpx.Response) -> tuple[int, int, int]:
    h = answer.headers
    return int(h["inin-ratelimit-allowed"]), int(h["inin-ratelimit-count"]), int(h["inin-ratelimit-reset"])


@pytest.mark.parametrize("limit", [3, 7])
def test_every_answer_carries_the_clients_count_up_to_its_429(emulator: Any, limit: int) -> None:
    _, platform = client(emulator, limit)
    for n in range(1, limit + 1):
        allowed, count, reset = counted(platform.get(ME))
        assert (allowed, count) == (limit, n)
        assert 1 <= reset <= 60
    refused = platform.get(ME)
    assert refused.status_code == 429
    allowed, count, reset = counted(refused)
    assert (allowed, count) == (limit, limit)  # a refused request is not counted
    assert reset == int(refused.headers["Retry-After"])


def test_errors_and_injected_faults_carry_it_too(emulator: Any) -> None:
    _, platform = client(emulator, 50)
    assert counted(platform.get("/api/v2/conversations/messages/no-such-id"))[1] == 1  # a 404
    emulator.fault(path=f"^{ME}$", status=503, times=1)
    faulted = platform.get(ME)
    assert faulted.status_code == 503 and "inin-ratelimit-count" in faulted.headers


def test_the_count_is_per_client(emulator: Any) -> None:
    _, first = client(emulator, 50)
    _, second = client(emulator, 50)
    for _ in range(4):
        first.get(ME)
    assert counted(second.get(ME))[1] == 1
    assert counted(first.get(ME))[1] == 5


def test_an_invalid_token_gets_no_count(emulator: Any) -> None:
    answer = httpx.get(f"{emulator.base_url}{ME}", headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401
    assert "inin-ratelimit-count" not in answer.headers
