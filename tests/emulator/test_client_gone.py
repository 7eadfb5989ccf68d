"""A client that goes away mid-request is an ordinary event for the emulator, not a crash.

Found by the soak: every SIGKILL of the reaper during an upload left an `Exception in ASGI application`
traceback (`starlette.requests.ClientDisconnect`) in the emulator's output. Now such a request is
counted, said in one line, and the emulator goes on serving.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from genesys_emulator.auth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from genesys_emulator.server import EmulatorServer


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer() as running:
        yield running


def _gone_mid_body(server: EmulatorServer, method: str, path: str) -> None:
    """Send the head and a part of the body announced, then close the connection (as a killed client)."""
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer abc\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        )
        sock.sendall(head.encode() + b'{"textBody": "This chat was clo')
        time.sleep(0.2)  # the emulator is reading the body when the client goes


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v2/conversations/messages/c/communications/m/messages"),  # a platform route
        ("POST", "/emulator/v1/conversations"),  # the admin API
    ],
)
def test_a_client_gone_mid_body_is_counted_in_one_line_without_a_traceback(
    server: EmulatorServer, caplog: pytest.LogCaptureFixture, method: str, path: str
) -> None:
    caplog.set_level(logging.DEBUG)
    _gone_mid_body(server, method, path)
    deadline = time.monotonic() + 10
    while server.world.clients_gone < 1:
        assert time.monotonic() < deadline, "the emulator never noticed the client went away"
        time.sleep(0.02)

    assert server.world.clients_gone == 1
    said = [r for r in caplog.records if "went away" in r.getMessage()]
    expected = f"client went away before its request was read: {method} {path}"
    assert [r.getMessage() for r in said] == [expected]
    assert [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []
    assert not any(r["path"] == path for r in server.world.requests)  # never served, so not logged
    # and the emulator serves the next client as before
    token = httpx.post(
        f"{server.base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
    )
    assert token.status_code == 200
