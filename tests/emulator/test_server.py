"""The `session-reaper emulator` command (its REST API and its WebSocket), and the error shape every
failure shares."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from genesys_emulator.client import platform_client
from tests.helpers.channels import frame, listen, open_channel

ERROR_KEYS = {
    "message",
    "code",
    "status",
    "messageWithParams",
    "messageParams",
    "contextId",
    "details",
    "errors",
}


def test_the_emulator_command_serves_the_demo_seed() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "session_reaper.commands.cli",
        "emulator",
        "--port",
        str(port),
        "--seed",
        "demo",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                clock = httpx.get(f"{base}/emulator/v1/clock", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None, process.stderr.read()  # type: ignore[union-attr]
                time.sleep(0.1)
        platform = platform_client(base)
        queues = platform.get("/api/v2/routing/queues").json()
        # the command serves the Notifications WebSocket on the same port (uvicorn's websockets support)
        channel = open_channel(platform)
        with listen(channel) as ws:
            ws.send('{"message":"ping"}')
            pong = frame(ws)
        platform.close()
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert clock.status_code == 200
    assert queues["total"] >= 4
    assert pong["eventBody"] == {"message": "pong"}


def test_every_failure_has_the_platform_error_shape_and_a_date(emulator: Any) -> None:
    emulator.add_client("nobody", "nobody-secret", permissions=[], rateLimitPerMinute=1)
    nobody = platform_client(emulator.base_url, "nobody", "nobody-secret")
    cid = emulator.create_conversation(
        {
            "participants": [
                {"purpose": "customer", "state": "disconnected"},
                {"purpose": "agent", "state": "disconnected"},
            ]
        }
    )["id"]
    answers = {
        400: emulator.platform.patch(f"/api/v2/conversations/messages/{cid}", json={"state": "connected"}),
        401: httpx.get(f"{emulator.base_url}/api/v2/tokens/me", headers={"Authorization": "Bearer stale"}),
        403: nobody.post(f"/api/v2/conversations/{cid}/disconnect"),
        404: emulator.platform.get("/api/v2/conversations/messages/nothing-here"),
        405: emulator.platform.put(f"/api/v2/conversations/{cid}"),
        429: nobody.get("/api/v2/tokens/me"),
    }
    emulator.fault(method="GET", path="/tokens/me", status=503, times=1)
    answers[503] = emulator.platform.get("/api/v2/tokens/me")
    nobody.close()

    for status, answer in answers.items():
        assert answer.status_code == status, (status, answer.text)
        body = answer.json()
        assert set(body) == ERROR_KEYS, status
        assert body["status"] == status and body["code"] and body["message"] and body["contextId"]
        assert parsedate_to_datetime(answer.headers["Date"]).tzinfo is not None
    assert answers[429].headers["Retry-After"].isdigit()
