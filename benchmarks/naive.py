"""The cleanup script the forum threads describe, written fairly, as the baseline to beat.

What it does, like the scripts in the threads once their endpoints are corrected:
- one analytics query (paged) for unended message conversations;
- GET each conversation (the media view);
- if the last message from anyone is older than the threshold, PATCH the conversation to
  `disconnected` — one rule, no re-read before acting, no exemptions, no platform timer, no wrap-up;
- on a 429, sleep for Retry-After and carry on.
To be fair it uses the platform's clock (the `Date` header) rather than the machine's, the real
endpoints (the threads' `/remove`, `DELETE` and `/messaging/` would not close anything at all), and the
same scope as the reaper when `channels` is given (a `messageType` segment filter), so that both watch
the same conversations. `sleep` is injectable so that a benchmark can run it on a virtual clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx


@dataclass
class NaiveStats:
    requests: int = 0
    rate_limited: int = 0
    closed: list[str] = field(default_factory=list)


class NaiveCleanup:
    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        threshold: timedelta,
        *,
        channels: Sequence[str] = (),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.threshold = threshold
        self.channels = tuple(channels)
        self.sleep = sleep
        self.stats = NaiveStats()
        self.platform_now = datetime.now(UTC)
        token = self._send(
            "POST", "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, client_secret)
        ).json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {token}"

    def close(self) -> None:
        self.http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        while True:
            answer = self.http.request(method, path, **kwargs)
            self.stats.requests += 1
            if "date" in answer.headers:
                self.platform_now = parsedate_to_datetime(answer.headers["date"])
            if answer.status_code == 429:
                self.stats.rate_limited += 1
                self.sleep(float(answer.headers.get("Retry-After", "1")))
                continue
            return answer

    def unended(self) -> list[str]:
        end = self.platform_now + timedelta(minutes=1)
        start = end - timedelta(days=31)
        ids: list[str] = []
        page = 1
        segment_filters: list[dict[str, Any]] = [
            {"type": "and", "predicates": [{"dimension": "mediaType", "value": "message"}]}
        ]
        if self.channels:
            segment_filters.append(
                {
                    "type": "or",
                    "predicates": [{"dimension": "messageType", "value": c} for c in self.channels],
                }
            )
        while True:
            body = self._send(
                "POST",
                "/api/v2/analytics/conversations/details/query",
                json={
                    "interval": f"{_iso(start)}/{_iso(end)}",
                    "paging": {"pageSize": 100, "pageNumber": page},
                    "conversationFilters": [
                        {
                            "type": "and",
                            "predicates": [{"dimension": "conversationEnd", "operator": "notExists"}],
                        }
                    ],
                    "segmentFilters": segment_filters,
                },
            ).json()
            batch = [c["conversationId"] for c in body.get("conversations", [])]
            ids.extend(batch)
            if len(batch) < 100:
                return ids
            page += 1

    def sweep(self) -> list[str]:
        """One pass; returns the ids it disconnected."""
        closed: list[str] = []
        for conversation_id in self.unended():
            answer = self._send("GET", f"/api/v2/conversations/messages/{conversation_id}")
            if answer.status_code != 200:
                continue
            last = _last_message(answer.json())
            if last is not None and self.platform_now - last < self.threshold:
                continue
            done = self._send(
                "PATCH", f"/api/v2/conversations/messages/{conversation_id}", json={"state": "disconnected"}
            )
            if done.status_code < 300:
                closed.append(conversation_id)
        self.stats.closed.extend(closed)
        return closed


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _last_message(conversation: dict[str, Any]) -> datetime | None:
    times = [
        datetime.fromisoformat(m["messageTime"].replace("Z", "+00:00"))
        for p in conversation.get("participants", [])
        for m in p.get("messages", []) or []
        if m.get("messageTime")
    ]
    return max(times) if times else None
