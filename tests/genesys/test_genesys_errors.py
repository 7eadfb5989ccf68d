"""Failed platform answers map to the exceptions callers act on, with what the platform said."""

from __future__ import annotations

import pytest

from session_reaper.genesys.errors import (
    AuthenticationFailed,
    BadRequest,
    Conflict,
    GenesysError,
    NotFound,
    PermissionMissing,
    RateLimited,
    ServerError,
    error_for_response,
    missing_permissions,
    parse_error_body,
)

FORBIDDEN = {
    "message": "Unable to perform the requested action. You are missing the following permission(s): "
    "conversation:communication:disconnect",
    "code": "missing.permissions",
    "status": 403,
    "messageWithParams": "You are missing the following permission(s): {permissions}",
    "messageParams": {"permissions": "conversation:communication:disconnect"},
    "contextId": "d2b4c3a1-0000-4000-8000-000000000001",
    "details": [],
    "errors": [],
}


def test_403_names_the_permission_and_keeps_message_code_and_context() -> None:
    error = error_for_response(403, FORBIDDEN, method="PATCH", path="/api/v2/conversations/messages/c1")
    assert isinstance(error, PermissionMissing)
    assert error.permissions == ("conversation:communication:disconnect",)
    assert (error.status, error.code, error.context_id) == (
        403,
        "missing.permissions",
        FORBIDDEN["contextId"],
    )
    text = str(error)
    assert "Conversation > Communication > Disconnect" in text
    assert "contextId d2b4c3a1" in text and "PATCH /api/v2/conversations/messages/c1" in text


def test_permissions_are_found_in_the_message_when_params_are_missing() -> None:
    body = {"message": "missing permissions [analytics:conversationDetail:view, routing:queue:view]"}
    assert missing_permissions(body) == ("analytics:conversationDetail:view", "routing:queue:view")


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "bad.request", BadRequest),
        (400, "conversation.participant.not.connected", Conflict),
        (401, "bad.credentials", AuthenticationFailed),
        (404, "not.found", NotFound),
        (409, "conflict", Conflict),
        (429, "too.many.requests", RateLimited),
        (503, "service.unavailable", ServerError),
        (405, "method.not.allowed", GenesysError),
    ],
)
def test_status_and_code_choose_the_exception(status: int, code: str, kind: type[GenesysError]) -> None:
    error = error_for_response(status, {"message": "m", "code": code}, method="GET", path="/p")
    assert type(error) is kind
    assert error.message == "m" and error.code == code and error.status == status


def test_an_oauth_error_body_is_understood() -> None:
    body = parse_error_body(b'{"error":"invalid_client","description":"client not found"}')
    error = error_for_response(401, body, method="POST", path="/oauth/token")
    assert error.code == "invalid_client" and error.message == "client not found"


def test_a_body_that_is_not_json_still_gives_a_message() -> None:
    error = error_for_response(502, parse_error_body(b"<html>Bad Gateway</html>"), method="GET", path="/p")
    assert isinstance(error, ServerError) and error.message == "HTTP 502"


def test_context_id_falls_back_to_the_correlation_header() -> None:
    error = error_for_response(404, {}, method="GET", path="/p", context_id="corr-1")
    assert error.context_id == "corr-1"
