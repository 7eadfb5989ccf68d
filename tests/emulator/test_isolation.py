"""Tests share one emulator per worker: what one test started must never show in the next one.

A request a client abandoned (its own timeout) is still being served; the reset that begins the next
test waits for it, and a request begun before a reset is never logged in the world after it. Judged
on the request log and the reset's answer only: no timing.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import httpx
import pytest

QUERY = "/api/v2/analytics/conversations/details/query"


def abandon(emulator: Any, method: str, path: str, **kwargs: Any) -> threading.Thread:
    """Send a request and give up on it at once, as a client that timed out would."""

    def send() -> None:
        headers = {"Authorization": emulator.platform.headers.get("Authorization", "")}
        client = httpx.Client(base_url=emulator.base_url, timeout=0.05, auth=emulator.platform.auth)
        with client, contextlib.suppress(httpx.TimeoutException):
            client.request(method, path, headers=headers, **kwargs)

    sender = threading.Thread(target=send)
    sender.start()
    return sender


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v2/conversations/{cid}", None),
        ("GET", "/api/v2/conversations/messages/{cid}", None),
        ("POST", QUERY, {"interval": "2026-11-01T00:00:00Z/2026-11-21T00:00:00Z"}),
        ("PATCH", "/api/v2/conversations/messages/{cid}", {"state": "disconnected"}),
    ],
)
def test_a_request_abandoned_by_its_client_never_shows_after_a_reset(emulator, method, path, body):
    cid = emulator.create_conversation({"participants": [{"purpose": "customer"}, {"purpose": "agent"}]})[
        "id"
    ]
    emulator.fault(method=method, path=".*", latencyMs=400, times=1)
    sender = abandon(emulator, method, path.format(cid=cid), json=body)
    sender.join()  # the client has given up; the emulator is still holding the request

    still_serving = emulator.reset()  # what the next test's fixture does

    assert still_serving == 0  # the reset waited for it to be answered
    assert emulator.requests() == []  # and its answer was not logged in the new world
    emulator.platform.get("/api/v2/tokens/me").raise_for_status()
    assert [(r["method"], r["path"]) for r in emulator.requests()] == [("GET", "/api/v2/tokens/me")]


def test_a_token_request_in_flight_never_shows_after_a_reset(emulator):
    emulator.fault(method="POST", path="^/oauth/token$", latencyMs=400, times=1)

    def send() -> None:
        client = httpx.Client(base_url=emulator.base_url, timeout=0.05)
        with client, contextlib.suppress(httpx.TimeoutException):
            client.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=("emulator", "emulator-secret"),
            )

    sender = threading.Thread(target=send)
    sender.start()
    sender.join()

    assert emulator.reset() == 0
    assert emulator.requests() == []
