"""Platform errors and the platform's error body."""

from __future__ import annotations

import json
import uuid
from typing import Any


class PlatformError(Exception):
    """A failure the platform reports with an error body `{message, code, status, ...}`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        params: dict[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.params = params or {}
        self.retry_after = retry_after


def error_body(status: int, code: str, message: str, params: dict[str, str] | None = None) -> dict[str, Any]:
    params = params or {}
    with_params = message
    for key, value in params.items():
        with_params = with_params.replace(value, "{" + key + "}")
    return {
        "message": message,
        "code": code,
        "status": status,
        "messageWithParams": with_params,
        "messageParams": params,
        "contextId": str(uuid.uuid4()),
        "details": [],
        "errors": [],
    }


def error_bytes(status: int, code: str, message: str, params: dict[str, str] | None = None) -> bytes:
    return json.dumps(error_body(status, code, message, params), separators=(",", ":")).encode()


def missing_permissions(permissions: tuple[str, ...]) -> PlatformError:
    """403 naming what is missing, in the message and in `messageParams` (any one of them would do)."""
    names = ", ".join(permissions)
    return PlatformError(
        403,
        "missing.permissions",
        f"Unable to perform the requested action. You are missing the following permission(s): [{names}]",
        {"permissions": names},
    )


def not_found(what: str) -> PlatformError:
    return PlatformError(404, "not.found", f"The requested {what} was not found.")


def bad_request(message: str, code: str = "bad.request") -> PlatformError:
    return PlatformError(400, code, message)
