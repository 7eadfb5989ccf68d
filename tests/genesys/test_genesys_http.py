"""The transport against the emulator over loopback: tokens, renewal, pacing, Retry-After, retries, errors.

Every claim is checked on the emulator's request log (what the platform actually received), not on the
client's own word. Nothing sleeps through a threshold: tokens are expired by moving the emulator's clock.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import httpx
import pytest

from session_reaper.genesys.api import GenesysApi
from session_reaper.genesys.attempts import ResponseEvent
from session_reaper.genesys.errors import (
    AuthenticationFailed,
    BadRequest,
    Conflict,
    NotFound,
    PermissionMissing,
    ServerError,
    TransportError,
)
from session_reaper.genesys.http import RetryPolicy
from session_reaper.genesys.pacing import PlatformCount
from session_reaper.genesys.regions import resolve

T = TypeVar("T")
_ids = itertools.count()

IDLE_CHAT: dict[str, Any] = {
    "messageType": "webmessaging",
    "queueId": "q-support",
    "participants": [
        {"purpose": "customer", "state": "connected", "messages": [{"ago": "45m"}]},
        {"purpose": "acd", "state": "disconnected", "startedAgo": "50m", "endedAgo": "46m"},
        {"purpose": "agent", "state": "connected", "wrapupRequired": True, "messages": [{"ago": "44m"}]},
    ],
}


def new_client(emulator: Any, **settings: Any) -> tuple[str, str]:
    """A fresh OAuth client, so that its token and rate limit are this test's alone."""
    client_id, secret = f"adapter-{next(_ids)}-{id(emulator)}", "s3cret-value-never-logged"
    emulator.add_client(client_id, secret, **settings)
    return client_id, secret


def run(
    emulator: Any, client: tuple[str, str], work: Callable[[GenesysApi], Awaitable[T]], **kwargs: Any
) -> T:
    async def main() -> T:
        endpoints = resolve(None, emulator.base_url)
        async with GenesysApi.connect(endpoints, client[0], client[1], **kwargs) as api:
            return await work(api)

    return asyncio.run(main())


def log_of(emulator: Any, client_id: str) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r.get("clientId") == client_id]


def at(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["at"].replace("Z", "+00:00"))


def test_one_token_serves_many_concurrent_calls(emulator: Any) -> None:
    client = new_client(emulator)
    cid = emulator.create_conversation(IDLE_CHAT)["id"]

    async def work(api: GenesysApi) -> None:
        await asyncio.gather(*(api.get_conversation(cid) for _ in range(15)), api.token_info())

    run(emulator, client, work)
    log = log_of(emulator, client[0])
    assert [r["path"] for r in log].count("/oauth/token") == 1
    assert len([r for r in log if r["path"] == f"/api/v2/conversations/{cid}" and r["status"] == 200]) == 15


def test_an_expired_token_is_renewed_once_and_the_request_repeated(emulator: Any) -> None:
    client = new_client(emulator, tokenTtlSeconds=3600)
    cid = emulator.create_conversation(IDLE_CHAT)["id"]

    async def work(api: GenesysApi) -> dict[str, Any]:
        await api.get_conversation(cid)
        emulator.advance(3700)  # the platform's clock passes the token's expiry; ours does not notice
        return await api.get_conversation(cid)

    assert run(emulator, client, work)["id"] == cid
    log = [(r["method"], r["path"], r["status"]) for r in log_of(emulator, client[0])]
    path = f"/api/v2/conversations/{cid}"
    assert log == [
        ("POST", "/oauth/token", 200),
        ("GET", path, 200),
        ("GET", path, 401),
        ("POST", "/oauth/token", 200),
        ("GET", path, 200),
    ]


def test_a_bad_secret_fails_fast_with_one_token_request(emulator: Any) -> None:
    client_id, _ = new_client(emulator)
    with pytest.raises(AuthenticationFailed) as caught:
        run(emulator, (client_id, "wrong-secret-xyz"), lambda api: api.token_info())
    assert caught.value.status == 401 and caught.value.code == "invalid_client"
    assert "wrong-secret-xyz" not in str(caught.value) and "wrong-secret-xyz" not in repr(caught.value)
    assert [(r["path"], r["status"]) for r in log_of(emulator, client_id)] == [("/oauth/token", 401)]


def test_a_missing_permission_is_named_and_never_retried(emulator: Any) -> None:
    client = new_client(emulator, permissions=["conversation:communication:view"])
    cid = emulator.create_conversation(IDLE_CHAT)["id"]

    async def work(api: GenesysApi) -> str:
        return await api.teardown(cid)

    with pytest.raises(PermissionMissing) as caught:
        run(emulator, client, work)
    error = caught.value
    assert error.permissions == ("conversation:communication:disconnect",)
    assert "Conversation > Communication > Disconnect" in str(error)
    assert error.code == "missing.permissions" and error.context_id
    attempts = [r for r in log_of(emulator, client[0]) if r["path"].endswith("/disconnect")]
    assert [(r["method"], r["status"]) for r in attempts] == [("POST", 403)]


def test_429_waits_exactly_retry_after_before_the_next_attempt(emulator: Any) -> None:
    client = new_client(emulator)
    cid = emulator.create_conversation(IDLE_CHAT)["id"]
    path = f"/api/v2/conversations/{cid}"
    emulator.fault(method="GET", path=f"^{path}$", status=429, retryAfter=2, times=1)
    events: list[ResponseEvent] = []

    run(emulator, client, lambda api: api.get_conversation(cid), on_response=events.append)

    log = [r for r in log_of(emulator, client[0]) if r["path"] == path]
    assert [r["status"] for r in log] == [429, 200]
    # The platform's own clock says the retry came at least Retry-After later...
    assert (at(log[1]) - at(log[0])).total_seconds() >= 2.0 - 0.01
    # ...and so does our monotonic clock: the retry was sent >= 2 s after the 429 arrived.
    first, second = (e for e in events if e.path == path)
    assert first.status == 429 and first.will_retry and second.status == 200
    assert second.started - (first.started + first.seconds) >= 2.0


def test_503_twice_then_success(emulator: Any) -> None:
    client = new_client(emulator)
    cid = emulator.create_conversation(IDLE_CHAT)["id"]
    path = f"/api/v2/conversations/{cid}"
    emulator.fault(method="GET", path=f"^{path}$", status=503, times=2)

    async def work(api: GenesysApi) -> int:
        await api.get_conversation(cid)
        return api.stats.retries

    assert run(emulator, client, work, retry=RetryPolicy(backoff_base=0.1)) == 2
    assert [r["status"] for r in log_of(emulator, client[0]) if r["path"] == path] == [503, 503, 200]


def test_5xx_that_never_ends_gives_up_after_the_bounded_attempts(emulator: Any) -> None:
    client = new_client(emulator)
    path = "/api/v2/tokens/me"
    emulator.fault(method="GET", path=f"^{path}$", status=502, times=10)
    with pytest.raises(ServerError) as caught:
        run(
            emulator,
            client,
            lambda api: api.token_info(),
            retry=RetryPolicy(max_attempts=3, backoff_base=0.05),
        )
    assert caught.value.status == 502
    assert [r["status"] for r in log_of(emulator, client[0]) if r["path"] == path] == [502, 502, 502]


def test_400_is_never_retried_and_already_disconnected_is_a_conflict(emulator: Any) -> None:
    client = new_client(emulator)
    created = emulator.create_conversation(IDLE_CHAT)
    cid = created["id"]
    acd = next(p["id"] for p in created["participants"] if p["purpose"] == "acd")
    agent = next(p["id"] for p in created["participants"] if p["purpose"] == "agent")
    agent_path = f"/api/v2/conversations/messages/{cid}/participants/{agent}"
    emulator.fault(method="PATCH", path=f"^{agent_path}$", status=400, times=3)

    async def work(api: GenesysApi) -> None:
        with pytest.raises(BadRequest) as refused:
            await api.disconnect_participant(cid, agent)
        assert not refused.value.maybe_applied  # a 400 says it was not carried out
        with pytest.raises(Conflict) as caught:
            await api.disconnect_participant(cid, acd)  # left 46 minutes ago
        assert caught.value.code == "conversation.participant.not.connected"
        with pytest.raises(NotFound):
            await api.get_conversation("no-such-conversation")

    run(emulator, client, work)
    log = log_of(emulator, client[0])
    assert [r["status"] for r in log if r["path"] == agent_path] == [400]
    assert [r["status"] for r in log if r["path"].endswith(f"/participants/{acd}")] == [400]
    assert [r["status"] for r in log if r["path"].endswith("/no-such-conversation")] == [404]


def test_pacing_never_sends_more_than_the_limit_allows(emulator: Any) -> None:
    """40 requests fired at once by a client limited to 30/min: 28 go out, the rest wait, no 429."""
    client = new_client(emulator, rateLimitPerMinute=30)
    done: list[int] = []

    async def one(api: GenesysApi) -> None:
        await api.token_info()
        done.append(1)

    async def work(api: GenesysApi) -> None:
        tasks = [asyncio.create_task(one(api)) for _ in range(40)]
        await asyncio.sleep(1.5)  # long enough for a client without pacing to have sent all 40
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    run(emulator, client, work, requests_per_minute=30)
    log = [r for r in log_of(emulator, client[0]) if r["path"] == "/api/v2/tokens/me"]
    assert [r["status"] for r in log] == [200] * 28  # floor(0.95 * 30), and zero 429s
    assert len(done) == 28


def test_each_count_an_answer_reports_reaches_on_count(emulator: Any) -> None:
    client = new_client(emulator, rateLimitPerMinute=120)
    seen: list[PlatformCount] = []

    async def work(api: GenesysApi) -> None:
        for _ in range(3):
            await api.token_info()

    run(emulator, client, work, on_count=seen.append)
    assert [(c.allowed, c.count) for c in seen] == [(120, 1), (120, 2), (120, 3)]
    assert all(0 < c.reset <= 60 for c in seen)


def test_a_known_count_paces_the_first_request(emulator: Any) -> None:
    """A full window known before the start (a predecessor's count): the first request waits for its
    end instead of going out blind; the token (not counted by the platform) is fetched at once."""
    client = new_client(emulator)

    async def work(api: GenesysApi) -> None:
        await api.token_info()

    started = time.monotonic()
    run(emulator, client, work, known_count=PlatformCount(300, 300, 1.5))
    sent = time.monotonic() - started
    log = log_of(emulator, client[0])
    assert [r["path"] for r in log] == ["/oauth/token", "/api/v2/tokens/me"]
    assert (at(log[1]) - at(log[0])).total_seconds() >= 1.4  # the emulator logs whole milliseconds
    assert sent >= 1.5


def test_the_clock_is_the_platforms_not_the_machines(emulator: Any) -> None:
    client = new_client(emulator)
    emulator.set_clock("2031-01-01T12:00:00Z")

    async def work(api: GenesysApi) -> tuple[datetime, datetime]:
        first = api.clock.now()  # already set by the token answer in connect()
        emulator.advance(7200)
        await api.token_info()
        return first, api.clock.now()

    first, later = run(emulator, client, work)
    platform_now = emulator.now()
    assert abs((first - datetime.fromisoformat("2031-01-01T12:00:00+00:00")).total_seconds()) < 5
    assert abs((later - platform_now).total_seconds()) < 2


def test_a_message_is_never_sent_twice_after_an_ambiguous_failure(emulator: Any) -> None:
    """504 or a read timeout may come after the platform acted: a send is not repeated, a read is."""
    client = new_client(emulator)
    created = emulator.create_conversation(IDLE_CHAT)
    cid = created["id"]
    send_path = f"/api/v2/conversations/messages/{cid}/communications/.*/messages"
    emulator.fault(method="POST", path=f"^{send_path}$", status=504, times=1)
    emulator.fault(method="GET", path=f"^/api/v2/conversations/{cid}$", latencyMs=600, times=1)

    events: list[ResponseEvent] = []

    async def work(api: GenesysApi) -> None:
        view = await api.get_conversation(cid)  # first attempt times out, the second answers
        agent = next(p for p in view["participants"] if p["purpose"] == "agent")
        with pytest.raises(ServerError) as sent:
            await api.send_message(cid, agent["messages"][0]["id"], "closing text")
        assert sent.value.maybe_applied  # the caller must read the platform, not journal a failure

    run(emulator, client, work, timeout=0.3, retry=RetryPolicy(backoff_base=0.05), on_response=events.append)
    log = log_of(emulator, client[0])
    assert [r["status"] for r in log if r["method"] == "POST" and r["path"].endswith("/messages")] == [504]
    reads = [(e.status, e.will_retry) for e in events if e.path == f"/api/v2/conversations/{cid}"]
    assert reads == [(None, True), (200, False)]


def test_a_fixed_access_token_is_checked_up_front_and_never_renewed(emulator: Any) -> None:
    async def main(token: str) -> dict[str, Any]:
        endpoints = resolve(None, emulator.base_url)
        async with GenesysApi.connect(endpoints, access_token=token) as api:
            return await api.token_info()

    client = new_client(emulator)
    answer = httpx.post(
        f"{emulator.base_url}/oauth/token", data={"grant_type": "client_credentials"}, auth=client
    )
    good = answer.json()["access_token"]
    assert asyncio.run(main(good))["organization"]
    emulator.clear_requests()
    with pytest.raises(AuthenticationFailed) as caught:
        asyncio.run(main("not-a-valid-token"))
    assert "not-a-valid-token" not in str(caught.value)
    assert [(r["path"], r["status"]) for r in emulator.requests()] == [("/api/v2/tokens/me", 401)]


def test_secrets_never_reach_the_logs(emulator: Any, caplog: pytest.LogCaptureFixture) -> None:
    client = new_client(emulator)
    cid = emulator.create_conversation(IDLE_CHAT)["id"]
    emulator.fault(method="GET", path=f"^/api/v2/conversations/{cid}$", status=503, times=1)
    tokens: list[str] = []

    async def work(api: GenesysApi) -> None:
        await api.get_conversation(cid)
        tokens.extend(api.http._tokens.secrets())

    with caplog.at_level("DEBUG"):
        run(emulator, client, work, retry=RetryPolicy(backoff_base=0.05))
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "platform GET" in text  # the transport does log...
    assert client[1] not in text and tokens and tokens[0] not in text  # ...but never a secret


def test_an_unreachable_platform_fails_after_a_few_attempts_with_transport_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    events: list[ResponseEvent] = []

    async def main() -> None:
        endpoints = resolve(None, f"http://127.0.0.1:{port}")
        async with GenesysApi.connect(
            endpoints, "id", "secret-abc", retry=RetryPolicy(backoff_base=0.01), on_response=events.append
        ):
            pass

    with pytest.raises(TransportError) as caught:
        asyncio.run(main())
    assert caught.value.status is None and caught.value.path == "/oauth/token"
    assert "secret-abc" not in str(caught.value)
    assert [e.status for e in events] == [None] * RetryPolicy().max_transport_attempts
