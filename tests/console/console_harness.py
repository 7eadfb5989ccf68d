"""The console's API tests' harness: a real `serve` process with the console's tokens, and its client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.helpers.scenarios import writes
from tests.service.serve_harness import Serve, wait_until

OPERATOR_TOKEN = "op-7f3c9a1e5b2d4c6f8a0b"
VIEWER_TOKEN = "view-2b4d6f8a0c1e3a5c7e9f"
TOKENS = {
    "SESSION_REAPER_CONSOLE_TOKEN": OPERATOR_TOKEN,
    "SESSION_REAPER_CONSOLE_VIEWER_TOKEN": VIEWER_TOKEN,
}


def idle_chat(minutes: int, *, queue: str = "queue-support") -> dict[str, Any]:
    """Customer and agent connected; nobody wrote for `minutes` (idle closes after 30m by default)."""
    return {
        "messageType": "webmessaging",
        "queueId": queue,
        "participants": [
            {
                "purpose": "customer",
                "state": "connected",
                "name": "Ada Guest",
                "messages": [{"ago": f"{minutes}m"}],
            },
            {
                "purpose": "acd",
                "state": "disconnected",
                "startedAgo": f"{minutes + 10}m",
                "endedAgo": f"{minutes + 5}m",
            },
            {"purpose": "agent", "state": "connected", "messages": [{"ago": f"{minutes + 1}m"}]},
        ],
    }


def ended(emulator: Any, conversation_id: str) -> bool:
    view = emulator.platform.get(f"/api/v2/conversations/{conversation_id}").json()
    states = [
        str((p.get("messages") or [p])[0].get("state", p.get("state", ""))).lower()
        for p in view["participants"]
    ]
    return all(s in ("disconnected", "terminated") for s in states)


def customer_attributes(emulator: Any, conversation_id: str) -> dict[str, str]:
    view = emulator.platform.get(f"/api/v2/conversations/{conversation_id}").json()
    customer = next(p for p in view["participants"] if p["purpose"] == "customer")
    return dict(customer.get("attributes") or {})


@dataclass
class ConsoleServe:
    """A `serve` with the console's tokens, and requests to its API."""

    serve: Serve
    emulator: Any

    @property
    def url(self) -> str:
        return self.serve.url

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = OPERATOR_TOKEN,
        user: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if user is not None:
            headers["X-Console-User"] = user
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def conversations(self, **params: str) -> list[dict[str, Any]]:
        answer = self.call("GET", "/api/console/conversations", params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()["conversations"]  # type: ignore[no-any-return]

    def entry(self, conversation_id: str) -> dict[str, Any] | None:
        return next((c for c in self.conversations() if c["conversationId"] == conversation_id), None)

    def wait_entry(self, conversation_id: str, predicate: Any = bool, what: str = "") -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            entry = self.entry(conversation_id)
            return entry if entry is not None and predicate(entry) else None

        return wait_until(found, what or f"{conversation_id} in the live view")  # type: ignore[no-any-return]

    def passes(self) -> float:
        return sum(
            v for (name, _), v in self.serve.metrics().items() if name == "session_reaper_sweeps_total"
        )

    def wait_passes(self, more: int = 2) -> None:
        """Let `more` whole passes run (the one in flight may have started before what the test did)."""
        start = self.passes()
        wait_until(lambda: self.passes() >= start + more, f"{more} more passes")

    def writes(self) -> list[dict[str, Any]]:
        return writes(self.emulator.requests())


class Starter(ConsoleServe):
    def start(self, *args: str, extra: str = "", environment: dict[str, str] | None = None) -> ConsoleServe:
        self.serve.start(*args, environment={**TOKENS, **(environment or {})}, extra=extra)
        self.serve.wait_ready()
        return self
