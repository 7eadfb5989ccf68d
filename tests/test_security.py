"""Issue 15.4: secrets never leave, under faults; the service and the emulator bind loopback by default.

Every command runs as a real process with recognizable secret values (the OAuth client secret, the
console tokens, the ledger's PostgreSQL password in its URL and in PGPASSWORD, a fixed access token)
under each fault: the token refused (401), permissions refused (403), a 5xx storm, the platform too
slow to answer, the ledger refused, a bad config, a bad client secret. Then stdout, stderr (the logs),
the ledger dump and the report's HTML are searched for each secret, and for every bearer token the
emulator issued to that client.
"""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from genesys_emulator.server import EmulatorServer
from tests.helpers.scenarios import idle_chat
from tests.scenarios.conftest import Reaper, toml_text
from tests.service.serve_harness import free_port

CLIENT_SECRET = "S3CRET-client-9f1c2e"
CONSOLE_TOKEN = "S3CRET-console-4b7a10"
VIEWER_TOKEN = "S3CRET-viewer-77de03"
LEDGER_PASSWORD = "S3CRET-ledgerpw-5c2d"
PG_PASSWORD = "S3CRET-pgpass-e8e8a1"
WRONG_SECRET = "S3CRET-wrong-0a0a0a"
FIXED_TOKEN = "S3CRET-fixedtoken-31337"
SECRETS = (
    CLIENT_SECRET,
    CONSOLE_TOKEN,
    VIEWER_TOKEN,
    LEDGER_PASSWORD,
    PG_PASSWORD,
    WRONG_SECRET,
    FIXED_TOKEN,
)

COMMANDS = {
    "scan": ["scan"],
    "sweep": ["sweep", "--apply", "--json"],
    "doctor": ["doctor"],
    "report": ["report", "--html", "report.html"],
    "serve": ["serve", "--apply"],
}
FAULTS = [
    "401",
    "403",
    "5xx",
    "slow",
    "ledger-refused",
    "bad-config",
    "bad-secret",
    "bad-fixed-token",
    "echoed-secret",  # an error body quoting secrets back (a gateway, a misbehaving proxy)
]
ECHO = f"upstream refused {CLIENT_SECRET} / {CONSOLE_TOKEN} / {PG_PASSWORD}"


@pytest.fixture(scope="module")
def server() -> Any:
    with EmulatorServer(rate_limit=100_000) as emulator:
        yield emulator


def _issued_tokens(server: EmulatorServer, client_id: str) -> list[str]:
    with server.world.lock:
        return [t for t, (c, _) in server.world.registry.tokens.items() if c.client_id == client_id]


def _run(reaper: Reaper, command: list[str], env: dict[str, str], config: Path) -> tuple[str, str]:
    argv = [sys.executable, "-m", "session_reaper.commands.cli", *command, "--config", str(config)]
    if command[0] == "serve":
        argv += ["--port", str(free_port())]
        process = subprocess.Popen(
            argv, env=env, cwd=reaper.workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        time.sleep(4)
        process.send_signal(signal.SIGTERM)
        try:
            return process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.communicate()
    done = subprocess.run(argv, env=env, cwd=reaper.workdir, capture_output=True, text=True, timeout=120)
    return done.stdout, done.stderr


def _ledger_dump(path: Path) -> str:
    if not path.exists():
        return ""
    with sqlite3.connect(path) as db:
        return "\n".join(db.iterdump())


@pytest.mark.slow
@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_no_secret_leaves_under_a_fault(
    server: EmulatorServer, tmp_path: Path, command: str, fault: str
) -> None:
    base = server.base_url
    admin = httpx.Client(base_url=f"{base}/emulator/v1", timeout=10)
    admin.post("/reset")
    client_id = f"sec-{uuid.uuid4().hex[:8]}"
    admin.post("/clients", json={"clientId": client_id, "clientSecret": CLIENT_SECRET, "permissions": ["*"]})
    admin.post("/conversations/batch", json={"conversations": [idle_chat(40 + i) for i in range(4)]})

    reaper = Reaper(base, tmp_path)
    reaper.client_id, reaper.client_secret = client_id, CLIENT_SECRET
    ledger_file = tmp_path / "ledger.db"
    sweep: dict[str, Any] = {"ledger": f"sqlite:///{ledger_file}", "verify_timeout": "2s", "interval": "1s"}
    extra = {
        "SESSION_REAPER_CONSOLE_TOKEN": CONSOLE_TOKEN,
        "SESSION_REAPER_CONSOLE_VIEWER_TOKEN": VIEWER_TOKEN,
        "PGPASSWORD": PG_PASSWORD,
    }
    if fault == "401":
        admin.post("/faults", json={"path": "^/api/v2/", "status": 401, "times": 1000})
    elif fault == "403":
        admin.post("/faults", json={"path": "^/api/v2/", "status": 403, "times": 1000})
    elif fault == "5xx":
        admin.post("/faults", json={"path": "^/api/v2/", "status": 503, "times": 1000})
        sweep["retry_backoff"] = "20ms"  # every retry is still made, its words looked at; only sooner
    elif fault == "slow":
        # past the client's timeout: the timeout's own exception text is what could carry a secret
        admin.post("/faults", json={"path": "^/api/v2/", "latencyMs": 1500, "times": 1000})
        sweep["request_timeout"] = "1s"
        sweep["retry_backoff"] = "20ms"
    elif fault == "echoed-secret":
        for method in ("GET", "POST", "PATCH"):
            admin.post(
                "/faults",
                json={"method": method, "path": "^/api/v2/", "status": 400, "message": ECHO, "times": 1000},
            )
    elif fault == "ledger-refused":
        sweep["ledger"] = f"postgresql://reaper:{LEDGER_PASSWORD}@127.0.0.1:{free_port()}/reaper"
    elif fault == "bad-secret":
        reaper.client_secret = WRONG_SECRET
    elif fault == "bad-fixed-token":
        extra["GENESYSCLOUD_ACCESS_TOKEN"] = FIXED_TOKEN
    config = tmp_path / "session-reaper.toml"
    if fault == "bad-config":
        sweep["ledger"] = f"postgresql://reaper:{LEDGER_PASSWORD}@127.0.0.1/reaper"
        sweep["concurrency"] = "lots"
    config.write_text(toml_text({"sweep": sweep}))
    env = reaper.env(extra)
    if fault == "bad-fixed-token":
        for name in ("GENESYSCLOUD_OAUTHCLIENT_ID", "GENESYSCLOUD_OAUTHCLIENT_SECRET"):
            env.pop(name)

    stdout, stderr = _run(reaper, COMMANDS[command], env, config)
    admin.delete("/faults")

    html = tmp_path / "report.html"
    seen = {
        "stdout": stdout,
        "stderr (logs)": stderr,
        "ledger": _ledger_dump(ledger_file),
        "report html": html.read_text() if html.exists() else "",
    }
    secrets = [*SECRETS, *_issued_tokens(server, client_id)]
    for where, text in seen.items():
        for secret in secrets:
            assert secret not in text, f"{command} under {fault}: a secret in {where}:\n{text[-3000:]}"


def _outside_address() -> str | None:
    """This host's address on a non-loopback interface, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))  # no packet is sent: it only picks a route
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") else address


def _listening(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


@pytest.mark.parametrize("command", ["serve", "emulator"])
def test_the_service_and_the_emulator_bind_loopback_by_default(
    server: EmulatorServer, tmp_path: Path, command: str
) -> None:
    outside = _outside_address()
    if outside is None:
        pytest.skip("this host has no non-loopback address to try")
    port = free_port()
    reaper = Reaper(server.base_url, tmp_path)
    config = reaper.config()
    argv = [sys.executable, "-m", "session_reaper.commands.cli", command, "--port", str(port)]
    if command == "serve":
        argv += ["--config", str(config)]
    process = subprocess.Popen(
        argv, env=reaper.env(), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while not _listening("127.0.0.1", port):
            assert process.poll() is None, f"{command} exited with {process.returncode}"
            assert time.monotonic() < deadline, f"{command} never listened on 127.0.0.1:{port}"
            time.sleep(0.1)
        assert not _listening(outside, port), f"{command} answers on {outside}:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
