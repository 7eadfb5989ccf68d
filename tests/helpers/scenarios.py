"""Building worlds and reading the platform's answers, shared by the scenario tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

# Writes are what a dry run must never send; the token and the analytics query are reads.
READ_ONLY_POSTS = ("/oauth/token", "/api/v2/analytics/conversations/details/query")


def writes(requests: list[dict[str, Any]], conversation_id: str | None = None) -> list[dict[str, Any]]:
    found = [
        r
        for r in requests
        if r["method"] in ("POST", "PATCH", "PUT", "DELETE")
        and not any(r["path"].startswith(p) for p in READ_ONLY_POSTS)
    ]
    if conversation_id is not None:
        found = [r for r in found if conversation_id in r["path"]]
    return found


def customer(state: str = "connected", ago: str | None = "45m", **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"purpose": "customer", "state": state, "attributes": {}, **extra}
    spec.setdefault("messages", [{"ago": ago}] if ago else [])
    return spec


def agent(state: str = "connected", ago: str | None = "46m", **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"purpose": "agent", "state": state, **extra}
    spec.setdefault("messages", [{"ago": ago}] if ago else [])
    return spec


def acd(state: str = "disconnected", **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"purpose": "acd", "state": state, "startedAgo": "60m", **extra}
    if state == "disconnected":
        spec.setdefault("endedAgo", "50m")
    return spec


def idle_chat(minutes: int = 45, **extra: Any) -> dict[str, Any]:
    """Scenario 1's shape: customer and agent connected, nobody wrote for `minutes`."""
    return {
        "messageType": "webmessaging",
        "queueId": "queue-support",
        "participants": [
            customer(ago=f"{minutes}m"),
            acd(),
            agent(ago=f"{minutes + 1}m"),
        ],
        **extra,
    }


def zombie() -> dict[str, Any]:
    """Orphaned: guest and agent left 20 minutes ago, the queue leg still connected (a teardown ends it)."""
    return {
        "messageType": "webmessaging",
        "participants": [
            customer(state="disconnected", ago="25m", endedAgo="20m"),
            acd(state="connected", startedAgo="30m"),
            agent(state="disconnected", ago="24m", endedAgo="20m"),
        ],
    }


def participants_by_purpose(view: dict[str, Any], purpose: str) -> list[dict[str, Any]]:
    return [p for p in view["participants"] if p.get("purpose") == purpose]


def state_of(participant: dict[str, Any]) -> str:
    communications = participant.get("messages") or []
    return (
        str(communications[0]["state"]).lower()
        if communications
        else str(participant.get("state", "")).lower()
    )


def ended(view: dict[str, Any]) -> bool:
    return all(state_of(p) in ("disconnected", "terminated") for p in view["participants"])


def unended_ids(emulator: Any) -> set[str]:
    """Conversation ids the analytics query for unended message conversations still returns."""
    now = emulator.now()
    start = (now - timedelta(days=30)).isoformat().replace("+00:00", "Z")
    end = now.isoformat().replace("+00:00", "Z")
    found: set[str] = set()
    page = 1
    while True:
        answer = emulator.platform.post(
            "/api/v2/analytics/conversations/details/query",
            json={
                "interval": f"{start}/{end}",
                "paging": {"pageSize": 100, "pageNumber": page},
                "conversationFilters": [
                    {"type": "and", "predicates": [{"dimension": "conversationEnd", "operator": "notExists"}]}
                ],
                "segmentFilters": [
                    {"type": "and", "predicates": [{"dimension": "mediaType", "value": "message"}]}
                ],
            },
        )
        answer.raise_for_status()
        body = answer.json()
        conversations = body.get("conversations", [])
        found.update(c["conversationId"] for c in conversations)
        if len(conversations) < 100:
            return found
        page += 1
