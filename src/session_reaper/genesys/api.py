"""``GenesysApi``: one typed method per platform operation of PLATFORM.md, nothing else.

Answers are returned as the platform's JSON (``dict``); ``mapping.py`` turns a conversation view into
the model. Everything about tokens, pacing, retries and errors lives in ``http.PlatformHttp``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Self, Unpack
from urllib.parse import quote

import httpx

from session_reaper.genesys.attempts import RequestStats, ResponseEvent
from session_reaper.genesys.clock import PlatformClock
from session_reaper.genesys.errors import MalformedResponse
from session_reaper.genesys.http import PlatformHttp, RequestOptions, RetryPolicy
from session_reaper.genesys.pacing import PlatformCount
from session_reaper.genesys.regions import Endpoints

_CONVERSATIONS = "/api/v2/conversations"
_MESSAGES = "/api/v2/conversations/messages"
_DISCONNECTED = {"state": "disconnected"}


class GenesysApi:
    """Typed platform calls. Get one with ``async with GenesysApi.connect(...) as api``."""

    def __init__(self, http: PlatformHttp) -> None:
        self.http = http

    @classmethod
    @asynccontextmanager
    async def connect(
        cls,
        endpoints: Endpoints,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        requests_per_minute: int = 300,
        access_token: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        on_response: Callable[[ResponseEvent], None] | None = None,
        on_count: Callable[[PlatformCount], None] | None = None,
        known_count: PlatformCount | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> AsyncIterator[Self]:
        """An authenticated API whose clock is already set from the platform's ``Date`` header.

        Bad credentials raise ``AuthenticationFailed`` here, before any work starts. With a fixed
        ``access_token`` (``GENESYSCLOUD_ACCESS_TOKEN``), ``GET /api/v2/tokens/me`` checks it.
        ``known_count`` (its ``reset`` from now) paces the first requests (``PlatformHttp.seed``);
        ``on_count`` sees every count an answer reports.
        """
        http = PlatformHttp(
            endpoints,
            client_id=client_id,
            client_secret=client_secret,
            access_token=access_token,
            requests_per_minute=requests_per_minute,
            timeout=timeout,
            retry=retry,
            on_response=on_response,
            on_count=on_count,
            transport=transport,
        )
        if known_count is not None:
            http.seed(known_count)
        async with http:
            api = cls(http)
            await http.authenticate()
            if access_token or not http.clock.synced:
                await api.token_info()
            yield api

    @property
    def clock(self) -> PlatformClock:
        return self.http.clock

    @property
    def stats(self) -> RequestStats:
        return self.http.stats

    def __repr__(self) -> str:
        return f"GenesysApi({self.http!r})"

    # --- who am I -------------------------------------------------------------------------------

    async def authenticate(self) -> None:
        """The cached token, or a new one when it is due: refused credentials raise now (`/readyz`)."""
        await self.http.authenticate()

    async def token_info(self) -> dict[str, Any]:
        """``GET /api/v2/tokens/me``: organization, OAuth client and scope of the current token."""
        return await self._json("GET", "/api/v2/tokens/me", "getTokensMe")

    # --- discovery and reads --------------------------------------------------------------------

    async def query_conversation_details(
        self, query: Mapping[str, Any], *, attempts: int | None = None
    ) -> dict[str, Any]:
        """``POST /api/v2/analytics/conversations/details/query`` (a read: safe to repeat).

        ``attempts`` bounds the tries below the retry policy's (a discovery probe tries once).
        """
        return await self._json(
            "POST",
            "/api/v2/analytics/conversations/details/query",
            "postAnalyticsConversationsDetailsQuery",
            json=dict(query),
            idempotent=True,
            max_attempts=attempts,
        )

    async def get_conversation(self, conversation_id: str) -> dict[str, Any]:
        """``GET /api/v2/conversations/{id}``: the generic view, with communication ids and ACW."""
        return await self._json("GET", f"{_CONVERSATIONS}/{_seg(conversation_id)}", "getConversation")

    async def get_message_conversation(self, conversation_id: str) -> dict[str, Any]:
        """``GET /api/v2/conversations/messages/{id}``: the message media view."""
        return await self._json("GET", f"{_MESSAGES}/{_seg(conversation_id)}", "getConversationsMessage")

    # --- ending -----------------------------------------------------------------------------------

    async def disconnect_participant(self, conversation_id: str, participant_id: str) -> None:
        """``PATCH .../messages/{id}/participants/{pid}`` ``{"state":"disconnected"}``.

        A participant who already left answers 400 ``conversation.participant.not.connected``, raised
        as ``Conflict``: the caller verifies instead of failing.
        """
        await self.http.request(
            "PATCH",
            f"{_MESSAGES}/{_seg(conversation_id)}/participants/{_seg(participant_id)}",
            operation="patchConversationsMessageParticipant",
            json=_DISCONNECTED,
        )

    async def disconnect_conversation(self, conversation_id: str) -> None:
        """``PATCH .../messages/{id}`` ``{"state":"disconnected"}``: disconnects every participant.

        The answer's body is not read: the 2xx is what says the platform accepted it, and an answer
        that cannot be parsed must not turn a disconnect that went through into a failed step.
        """
        await self.http.request(
            "PATCH",
            f"{_MESSAGES}/{_seg(conversation_id)}",
            operation="patchConversationsMessage",
            json=_DISCONNECTED,
        )

    async def teardown(self, conversation_id: str) -> str:
        """``POST /api/v2/conversations/{id}/disconnect``: the last resort; applies a system wrap-up.

        Repeating it is harmless (the conversation ends either way), so it is retried like a read.
        """
        response = await self.http.request(
            "POST",
            f"{_CONVERSATIONS}/{_seg(conversation_id)}/disconnect",
            operation="postConversationDisconnect",
            idempotent=True,
        )
        try:
            body = _decode(response, "POST", "teardown")
        except MalformedResponse:  # the body is informational: one that cannot be parsed changes nothing
            return response.text
        return body if isinstance(body, str) else "" if body is None else str(body)

    # --- annotate, tell the guest, wrap up ----------------------------------------------------------

    async def set_participant_attributes(
        self, conversation_id: str, participant_id: str, attributes: Mapping[str, str]
    ) -> None:
        """``PATCH .../messages/{id}/participants/{pid}/attributes`` ``{"attributes": {...}}``."""
        await self.http.request(
            "PATCH",
            f"{_MESSAGES}/{_seg(conversation_id)}/participants/{_seg(participant_id)}/attributes",
            operation="patchConversationsMessageParticipantAttributes",
            json={"attributes": {str(k): str(v) for k, v in attributes.items()}},
        )

    async def send_message(self, conversation_id: str, communication_id: str, text: str) -> dict[str, Any]:
        """``POST .../messages/{id}/communications/{cid}/messages`` ``{"textBody"}`` -> ``MessageData``.

        Not repeated after a timeout once sent: the guest must not get the same text twice.
        """
        return await self._json(
            "POST",
            f"{_MESSAGES}/{_seg(conversation_id)}/communications/{_seg(communication_id)}/messages",
            "postConversationsMessageCommunicationMessages",
            json={"textBody": text},
            idempotent=False,
        )

    async def apply_wrapup(
        self,
        conversation_id: str,
        participant_id: str,
        communication_id: str,
        code: str,
        notes: str | None = None,
    ) -> None:
        """``POST .../participants/{pid}/communications/{cid}/wrapup`` ``WrapupInput{code, notes}``.

        A second wrap-up is refused by the platform, so repeating after a timeout cannot overwrite.
        """
        body: dict[str, Any] = {"code": code}
        if notes:
            body["notes"] = notes
        await self.http.request(
            "POST",
            f"{_MESSAGES}/{_seg(conversation_id)}/participants/{_seg(participant_id)}"
            f"/communications/{_seg(communication_id)}/wrapup",
            operation="postConversationsMessageParticipantCommunicationWrapup",
            json=body,
            idempotent=True,
        )

    async def wrapup_codes(self, conversation_id: str, participant_id: str) -> list[dict[str, Any]]:
        """``GET .../messages/{id}/participants/{pid}/wrapupcodes``: the codes this agent may use."""
        body = await self._any(
            "GET",
            f"{_MESSAGES}/{_seg(conversation_id)}/participants/{_seg(participant_id)}/wrapupcodes",
            "getConversationsMessageParticipantWrapupcodes",
        )
        if isinstance(body, Mapping):  # be liberal: an entity listing instead of a bare list
            body = body.get("entities", [])
        return [item for item in body or [] if isinstance(item, dict)]

    # --- queues -------------------------------------------------------------------------------------

    async def get_queue(self, queue_id: str) -> dict[str, Any]:
        """``GET /api/v2/routing/queues/{id}``: media settings, including message inactivity handling."""
        return await self._json("GET", f"/api/v2/routing/queues/{_seg(queue_id)}", "getRoutingQueue")

    async def list_queues(self, page_size: int = 100) -> AsyncIterator[dict[str, Any]]:
        """Every queue, ``GET /api/v2/routing/queues`` page by page."""
        page = 1
        while True:
            listing = await self._json(
                "GET",
                "/api/v2/routing/queues",
                "getRoutingQueues",
                params={"pageSize": page_size, "pageNumber": page},
            )
            entities = [e for e in listing.get("entities") or [] if isinstance(e, dict)]
            for entity in entities:
                yield entity
            page_count = listing.get("pageCount")
            if not entities or (isinstance(page_count, int) and page >= page_count):
                return
            if not isinstance(page_count, int) and len(entities) < page_size:
                return
            page += 1

    # --- plumbing -------------------------------------------------------------------------------------

    async def _json(
        self, method: str, path: str, operation: str, **options: Unpack[RequestOptions]
    ) -> dict[str, Any]:
        body = await self._any(method, path, operation, **options)
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise MalformedResponse(
                f"the platform's answer could not be read: a JSON object was expected, got "
                f"{type(body).__name__}",
                method=method,
                path=path,
            )
        return body

    async def _any(self, method: str, path: str, operation: str, **options: Unpack[RequestOptions]) -> Any:
        response = await self.http.request(method, path, operation=operation, **options)
        return _decode(response, method, path)


def _seg(value: str) -> str:
    """One path segment: an id can never add a path of its own (``../``, ``?``)."""
    if not value:
        raise ValueError("an id is required")
    return quote(str(value), safe="")


def _decode(response: httpx.Response, method: str, path: str) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        # Truncated or not JSON at all: say so, with where, never the body (it may quote a guest).
        context_id = response.headers.get("inin-correlation-id")
        raise MalformedResponse(
            f"the platform's answer could not be read: not valid JSON ({len(response.content)} bytes, "
            f"status {response.status_code})",
            status=response.status_code,
            context_id=context_id,
            method=method,
            path=path,
        ) from None
