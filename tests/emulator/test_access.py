"""OAuth, bearer tokens, permissions and the per-client rate limit."""

from __future__ import annotations

from typing import Any

import httpx

from genesys_emulator.client import platform_client

QUERY = "/api/v2/analytics/conversations/details/query"


def token(base_url: str, client_id: str, secret: str, grant: str = "client_credentials") -> httpx.Response:
    return httpx.post(f"{base_url}/oauth/token", data={"grant_type": grant}, auth=(client_id, secret))


def test_client_credentials_give_a_bearer_token(emulator: Any) -> None:
    answer = token(emulator.base_url, "emulator", "emulator-secret")

    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 86400 and body["access_token"]
    me = httpx.get(
        f"{emulator.base_url}/api/v2/tokens/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    ).json()
    assert me["OAuthClient"]["id"] == "emulator"
    assert me["organization"]["id"]


def test_a_bad_secret_is_refused_like_the_login_service_does(emulator: Any) -> None:
    answer = token(emulator.base_url, "emulator", "wrong")

    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert "wrong" not in answer.text
    assert token(emulator.base_url, "emulator", "emulator-secret", grant="password").status_code == 400
    (logged,) = [r for r in emulator.requests() if r["status"] == 401]
    assert (logged["path"], logged["clientId"]) == ("/oauth/token", "emulator")


def test_api_routes_need_a_valid_unexpired_token(emulator: Any) -> None:
    emulator.add_client("short", "short-secret", tokenTtlSeconds=60)
    client = platform_client(emulator.base_url, "short", "short-secret")
    bearer = client.auth.token  # type: ignore[attr-defined]
    url = f"{emulator.base_url}/api/v2/tokens/me"

    assert httpx.get(url, headers={"Authorization": f"Bearer {bearer}"}).status_code == 200
    assert httpx.get(url).json()["code"] == "bad.credentials"
    assert httpx.get(url, headers={"Authorization": "Bearer nonsense"}).status_code == 401
    emulator.advance(61)
    expired = httpx.get(url, headers={"Authorization": f"Bearer {bearer}"})
    assert expired.status_code == 401
    assert expired.json()["code"] == "bad.credentials"
    assert "expired" in expired.json()["message"]


def test_a_missing_permission_is_403_naming_it(emulator: Any) -> None:
    emulator.add_client("viewer", "viewer-secret", permissions=["analytics:conversationDetail:view"])
    viewer = platform_client(emulator.base_url, "viewer", "viewer-secret")
    cid = emulator.create_conversation(
        {"participants": [{"purpose": "customer", "messages": [{"ago": "45m"}]}, {"purpose": "agent"}]}
    )["id"]
    agent = [
        p for p in emulator.platform.get(f"/api/v2/conversations/messages/{cid}").json()["participants"]
    ][1]

    denied = viewer.patch(
        f"/api/v2/conversations/messages/{cid}/participants/{agent['id']}", json={"state": "disconnected"}
    )
    teardown = viewer.post(f"/api/v2/conversations/{cid}/disconnect")

    for answer in (denied, teardown):
        assert answer.status_code == 403
        body = answer.json()
        assert body["code"] == "missing.permissions"
        assert "conversation:communication:disconnect" in body["message"]
        assert "conversation:communication:disconnect" in body["messageParams"]["permissions"]
    assert viewer.get(f"/api/v2/conversations/{cid}").status_code == 403  # conversation:communication:view
    assert viewer.get(f"/api/v2/conversations/messages/{cid}").status_code == 200
    interval = "2020-01-01T00:00:00Z/2020-01-31T00:00:00Z"
    assert viewer.post(QUERY, json={"interval": interval}).status_code == 200
    view = emulator.platform.get(f"/api/v2/conversations/messages/{cid}").json()
    assert view["participants"][1]["state"] == "connected"


def test_the_rate_limit_answers_429_with_retry_after(emulator: Any) -> None:
    emulator.add_client("tight", "tight-secret", rateLimitPerMinute=5)
    tight = platform_client(emulator.base_url, "tight", "tight-secret")

    statuses = [tight.get("/api/v2/tokens/me").status_code for _ in range(7)]

    assert statuses == [200] * 5 + [429] * 2
    limited = tight.get("/api/v2/tokens/me")
    assert limited.json()["code"] == "too.many.requests"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    # another client is not affected, nor the admin API
    assert emulator.platform.get("/api/v2/tokens/me").status_code == 200
    assert all(emulator.now() for _ in range(10))
