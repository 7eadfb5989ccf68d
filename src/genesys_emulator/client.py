"""Clients of a running emulator.

`EmulatorAdmin` wraps the `/emulator/v1` admin API; `platform_client` is an `httpx.Client` on the
platform API authenticated as one of the emulator's OAuth clients; `Emulator` is both at once, the
shape tests, the demo and benchmarks use.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime
from typing import Any

import httpx

from genesys_emulator.clock import parse_iso

# The emulator's server (uvicorn) closes a connection idle for 5 s; a client that reuses one just then
# gets "connection reset by peer" (a test asking for the request log after a 5 s act: CI, once). The
# clients here never reuse one idle for more than a second.
_LIMITS = httpx.Limits(keepalive_expiry=1.0)


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class EmulatorAdmin:
    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=f"{self.base_url}/emulator/v1", timeout=timeout, limits=_LIMITS)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EmulatorAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        answer = self._http.request(method, path, json=body)
        if answer.status_code >= 400:
            try:
                message = answer.json().get("message", answer.text)
            except ValueError:
                message = answer.text
            raise AdminError(answer.status_code, message)
        return answer.json()

    def reset(self) -> int:
        """Empty the world once the requests being served are answered; returns those still in flight."""
        answer = self._call("POST", "/reset")
        return int(answer.get("inFlight", 0)) if isinstance(answer, dict) else 0

    def now(self) -> datetime:
        return parse_iso(self._call("GET", "/clock")["now"])

    def advance(self, seconds: float) -> datetime:
        return parse_iso(self._call("POST", "/clock", {"advanceSeconds": seconds})["now"])

    def set_clock(self, moment: str | datetime) -> datetime:
        text = moment.isoformat() if isinstance(moment, datetime) else moment
        return parse_iso(self._call("POST", "/clock", {"set": text})["now"])

    def create_conversation(self, spec: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/conversations", spec)
        return result

    def create_conversations(self, specs: list[dict[str, Any]]) -> list[str]:
        ids: list[str] = self._call("POST", "/conversations/batch", {"conversations": specs})["ids"]
        return ids

    def conversation(self, conversation_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/conversations/{conversation_id}")
        return result

    def message(
        self, conversation_id: str, from_: str = "customer", text: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"from": from_}
        if text is not None:
            body["text"] = text
        result: dict[str, Any] = self._call("POST", f"/conversations/{conversation_id}/messages", body)
        return result

    def join(self, conversation_id: str, participant: dict[str, Any]) -> str:
        """A participant joins now; returns its id."""
        joined: str = self._call("POST", f"/conversations/{conversation_id}/participants", participant)["id"]
        return joined

    def leave(self, conversation_id: str, participant_id: str, disconnect_type: str = "endpoint") -> None:
        path = f"/conversations/{conversation_id}/participants/{participant_id}/leave"
        self._call("POST", path, {"disconnectType": disconnect_type})

    def set_state(self, conversation_id: str, participant_id: str, state: str) -> None:
        """The participant accepts an offer or resumes (``connected``), or parks (``parked``), now."""
        self._call(
            "POST", f"/conversations/{conversation_id}/participants/{participant_id}/state", {"state": state}
        )

    def agent_wrapup(
        self, conversation_id: str, participant_id: str, code: str, notes: str | None = None
    ) -> None:
        body = {"code": code, **({"notes": notes} if notes is not None else {})}
        self._call("POST", f"/conversations/{conversation_id}/participants/{participant_id}/wrapup", body)

    def fault(
        self,
        *,
        method: str | None = None,
        path: str = ".*",
        status: int | None = None,
        retryAfter: float | None = None,
        times: int | None = None,
        latencyMs: int = 0,
        **extra: Any,
    ) -> dict[str, Any]:
        body = {
            "method": method,
            "path": path,
            "status": status,
            "retryAfter": retryAfter,
            "times": times,
            "latencyMs": latencyMs,
            **extra,
        }
        result: dict[str, Any] = self._call(
            "POST", "/faults", {k: v for k, v in body.items() if v is not None}
        )
        return result

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def trigger(
        self,
        *,
        action: dict[str, Any],
        method: str | None = None,
        path: str = ".*",
        times: int | None = 1,
        clientId: str | None = None,
    ) -> dict[str, Any]:
        body = {"method": method, "path": path, "times": times, "action": action, "clientId": clientId}
        result: dict[str, Any] = self._call(
            "POST", "/triggers", {k: v for k, v in body.items() if v is not None}
        )
        return result

    def clear_triggers(self) -> None:
        self._call("DELETE", "/triggers")

    def requests(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("GET", "/requests")["requests"]
        return found

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def add_client(
        self,
        clientId: str,
        clientSecret: str,
        permissions: list[str] | None = None,
        rateLimitPerMinute: int = 300,
        tokenTtlSeconds: int = 86400,
        organization: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "clientId": clientId,
            "clientSecret": clientSecret,
            "permissions": ["*"] if permissions is None else permissions,
            "rateLimitPerMinute": rateLimitPerMinute,
            "tokenTtlSeconds": tokenTtlSeconds,
        }
        if organization is not None:
            body["organization"] = organization
        result: dict[str, Any] = self._call("POST", "/clients", body)
        return result

    def add_queue(
        self,
        id: str,
        name: str | None = None,
        inactivityTimeoutSeconds: int | None = None,
        actionType: str = "DISCONNECT",
    ) -> dict[str, Any]:
        body = {
            "id": id,
            "name": name,
            "inactivityTimeoutSeconds": inactivityTimeoutSeconds,
            "actionType": actionType,
        }
        result: dict[str, Any] = self._call(
            "POST", "/queues", {k: v for k, v in body.items() if v is not None}
        )
        return result

    # --- notifications (channels, the heartbeat, socket faults) ---------------------------------------

    def notifications(self) -> dict[str, Any]:
        """`{"heartbeatSeconds", "channels": [{"id", "clientId", "expires", "connected", "topics",
        "eventsSent", "eventsDropped"}], "faults": [...]}`."""
        result: dict[str, Any] = self._call("GET", "/notifications")
        return result

    def set_heartbeat(self, seconds: float) -> None:
        """Heartbeats every `seconds` wall seconds on every socket (30 by default, again after a reset)."""
        self.notification_settings(heartbeatSeconds=seconds)

    def notification_settings(
        self, *, heartbeatSeconds: float | None = None, sendQueueLimit: int | None = None
    ) -> dict[str, Any]:
        """Set either (until a reset); returns both. `sendQueueLimit`: frames a new socket may have
        waiting before the emulator closes it as too slow (10,000 by default)."""
        body = {"heartbeatSeconds": heartbeatSeconds, "sendQueueLimit": sendQueueLimit}
        result: dict[str, Any] = self._call(
            "POST", "/notifications/settings", {k: v for k, v in body.items() if v is not None}
        )
        return result

    def socket_fault(
        self,
        type: str,
        *,
        channelId: str | None = None,
        clientId: str | None = None,
        times: int | None = None,
        delaySeconds: float | None = None,
        closeAfterSeconds: float | None = None,
    ) -> int:
        """A fault on the matching sockets (all when no channel or client is named): `disconnect`,
        `socket_closing`, `silence`, `drop` or `delay`. Returns how many open sockets it matched."""
        body = {
            "type": type,
            "channelId": channelId,
            "clientId": clientId,
            "times": times,
            "delaySeconds": delaySeconds,
            "closeAfterSeconds": closeAfterSeconds,
        }
        answer = self._call("POST", "/notifications/faults", {k: v for k, v in body.items() if v is not None})
        return int(answer["sockets"])

    def clear_socket_faults(self) -> None:
        self._call("DELETE", "/notifications/faults")


DEFAULT_CLIENT = ("emulator", "emulator-secret")


class BearerToken(httpx.Auth):
    """Client credentials: a token fetched up front (see `renew`), fetched again once after a 401."""

    def __init__(self, base_url: str, client_id: str, secret: str) -> None:
        self.base_url, self.client_id, self.secret = base_url.rstrip("/"), client_id, secret
        self.token = ""

    def renew(self) -> None:
        answer = httpx.post(
            f"{self.base_url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(self.client_id, self.secret),
            timeout=10,
        )
        answer.raise_for_status()
        self.token = answer.json()["access_token"]

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        response = yield request
        if response.status_code == 401:  # the virtual clock outran the token
            self.renew()
            request.headers["Authorization"] = f"Bearer {self.token}"
            yield request


def platform_client(
    base_url: str, client_id: str = DEFAULT_CLIENT[0], secret: str = DEFAULT_CLIENT[1]
) -> httpx.Client:
    """An `httpx.Client` on the platform API, authenticated as an OAuth client of the emulator."""
    auth = BearerToken(base_url, client_id, secret)
    auth.renew()
    return httpx.Client(base_url=base_url, auth=auth, timeout=30, limits=_LIMITS)


class Emulator(EmulatorAdmin):
    """The admin API plus `.platform`, a platform client authenticated as the default OAuth client."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        self.platform = platform_client(base_url)

    def fresh(self) -> Emulator:
        """A new token (so that it outlives the caller's clock moves), then an empty world and log."""
        auth = self.platform.auth
        assert isinstance(auth, BearerToken)
        auth.renew()
        self.reset()
        return self

    def close(self) -> None:
        self.platform.close()
        super().close()
