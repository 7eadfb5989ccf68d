"""The console's authentication over real HTTP against a running `serve`: 401, 403, CSRF, sessions.

Every refusal is checked twice: the answer (status and JSON body), and the platform's request log,
which must show no write at all — a refused request changes nothing.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx
from sqlalchemy import select

from session_reaper.ledger import Ledger
from session_reaper.ledger.schema import console_actions, decisions
from tests.console.console_harness import OPERATOR_TOKEN, VIEWER_TOKEN, ConsoleServe, ended, idle_chat
from tests.service.serve_harness import free_port

ACTS = (
    ("POST", "/api/console/conversations/{cid}/close", None),
    ("POST", "/api/console/conversations/{cid}/exempt", {"exempt": True}),
    ("POST", "/api/console/pending/0123456789abcdef", {"approve": True}),
)
READS = (
    "/api/console/session",
    "/api/console/conversations",
    "/api/console/conversations/{cid}",
    "/api/console/pending",
    "/api/console/history?since=7d",
)


def journalled_acts(console: ConsoleServe) -> list[object]:
    """What the ledger says people did: a refused request must leave nothing there either."""
    with Ledger.open(console.serve.ledger_url) as ledger, ledger.engine.connect() as db:
        acts = list(db.execute(select(console_actions)).all())
        by_people = list(db.execute(select(decisions).where(decisions.c.operator.is_not(None))).all())
    return acts + by_people


def login(console: ConsoleServe, token: str, name: str = "Grace Hopper", **headers: str) -> httpx.Client:
    client = httpx.Client(base_url=console.url, timeout=30)
    answer = client.post("/console/login", data={"name": name, "token": token}, headers=headers)
    assert answer.status_code == 303 and answer.headers["location"] == "/console"
    return client


def test_without_auth_every_console_route_answers_401_and_nothing_is_written(
    console: Any, emulator: Any
) -> None:
    cid = emulator.create_conversation(idle_chat(45))["id"]
    console.start()  # a dry run: the sweeps themselves never write
    emulator.clear_requests()
    for method, path, body in ACTS:
        for token in (None, "not-the-token", OPERATOR_TOKEN + "x"):
            answer = console.call(method, path.format(cid=cid), token=token, json=body)
            assert answer.status_code == 401, (path, answer.text)
            assert answer.json()["error"] == "unauthenticated"
            assert OPERATOR_TOKEN not in answer.text
    for path in READS:
        answer = console.call("GET", path.format(cid=cid), token=None)
        assert answer.status_code == 401 and answer.json()["error"] == "unauthenticated"
    # a cookie that names no session is no session
    answer = httpx.post(
        f"{console.url}/api/console/conversations/{cid}/close",
        cookies={"session_reaper_console": "forged"},
        headers={"X-CSRF-Token": "forged"},
    )
    assert answer.status_code == 401
    assert console.writes() == []
    assert not any(cid in r["path"] and r["method"] != "GET" for r in emulator.requests())
    assert journalled_acts(console) == []


def test_a_viewer_reads_but_acting_answers_403_and_nothing_is_written(console: Any, emulator: Any) -> None:
    cid = emulator.create_conversation(idle_chat(45))["id"]
    console.start()
    console.wait_entry(cid)
    emulator.clear_requests()
    session = console.call("GET", "/api/console/session", token=VIEWER_TOKEN, user="Vera Viewer").json()
    assert session == {"name": "Vera Viewer", "role": "viewer", "csrfToken": None}
    listed = console.call("GET", "/api/console/conversations", token=VIEWER_TOKEN)
    assert listed.status_code == 200 and cid in listed.text
    for method, path, body in ACTS:
        answer = console.call(method, path.format(cid=cid), token=VIEWER_TOKEN, json=body)
        assert answer.status_code == 403, (path, answer.text)
        assert answer.json()["error"] == "forbidden"
    # a viewer's login session is refused the same way, with a valid CSRF token
    client = login(console, VIEWER_TOKEN, "Vera Viewer")
    csrf = client.get("/api/console/session").json()["csrfToken"]
    answer = client.post(f"/api/console/conversations/{cid}/close", headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 403 and answer.json()["error"] == "forbidden"
    assert console.writes() == []
    assert not ended(emulator, cid)
    assert journalled_acts(console) == []


def test_a_login_session_must_send_its_csrf_token_to_act(console: Any, emulator: Any) -> None:
    cid = emulator.create_conversation(idle_chat(45))["id"]
    console.start()
    console.wait_entry(cid)
    client = login(console, OPERATOR_TOKEN, "Grace Hopper")
    session = client.get("/api/console/session").json()
    assert session["name"] == "Grace Hopper" and session["role"] == "operator"
    csrf = session["csrfToken"]
    assert csrf
    emulator.clear_requests()
    for headers in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": csrf[:-1]}):
        answer = client.post(f"/api/console/conversations/{cid}/close", headers=headers)
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"] == "csrf"
        answer = client.post(
            f"/api/console/conversations/{cid}/exempt", json={"exempt": True}, headers=headers
        )
        assert answer.status_code == 403 and answer.json()["error"] == "csrf"
    assert console.writes() == []
    assert not ended(emulator, cid)
    wrong_field = client.post(f"/api/console/conversations/{cid}/close", data={"csrf_token": "wrong"})
    assert wrong_field.status_code == 403 and console.writes() == []
    # with it (header, or the form field of a page without script), the session acts in the operator's name
    answer = client.post(f"/api/console/conversations/{cid}/close", data={"csrf_token": csrf})
    assert answer.status_code == 200, answer.text
    assert answer.json()["operator"] == "Grace Hopper" and answer.json()["outcome"] == "done"
    assert ended(emulator, cid)
    # logging out ends the session: the cookie no longer opens anything
    cookie = client.cookies["session_reaper_console"]
    out = client.post("/console/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 303
    stale = httpx.get(f"{console.url}/api/console/session", cookies={"session_reaper_console": cookie})
    assert stale.status_code == 401


def test_the_session_cookie_is_http_only_strict_and_secure_behind_https(console: Any) -> None:
    console.start()
    plain = httpx.post(f"{console.url}/console/login", data={"name": "Ada", "token": OPERATOR_TOKEN})
    cookie = plain.headers["set-cookie"].lower()
    assert "session_reaper_console=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert "secure" not in cookie
    proxied = httpx.post(
        f"{console.url}/console/login",
        data={"name": "Ada", "token": OPERATOR_TOKEN},
        headers={"X-Forwarded-Proto": "https"},
    )
    assert "; secure" in proxied.headers["set-cookie"].lower()
    wrong = httpx.post(f"{console.url}/console/login", data={"name": "Ada", "token": "guess"})
    assert wrong.status_code == 303 and wrong.headers["location"] == "/console/login?failed=invalid"
    assert "set-cookie" not in wrong.headers


def test_without_any_token_configured_the_console_answers_401_to_everything(
    console: Any, emulator: Any
) -> None:
    cid = emulator.create_conversation(idle_chat(45))["id"]
    console.serve.start()  # loopback, no token: serve starts, the console is locked
    console.serve.wait_ready()
    emulator.clear_requests()
    answer = console.call("POST", f"/api/console/conversations/{cid}/close", token="anything")
    assert answer.status_code == 401 and "SESSION_REAPER_CONSOLE_TOKEN" in answer.json()["message"]
    assert console.call("GET", "/api/console/conversations", token=None).status_code == 401
    login_answer = httpx.post(f"{console.url}/console/login", data={"name": "x", "token": ""})
    assert login_answer.headers["location"] == "/console/login?failed=not-configured"
    assert console.writes() == []


def test_serve_beyond_loopback_without_the_operator_token_refuses_to_start(tmp_path: Any) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "GENESYSCLOUD_API_URL": "http://127.0.0.1:9",
        "GENESYSCLOUD_OAUTHCLIENT_ID": "x",
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": "y",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "session_reaper.commands.cli",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            str(free_port()),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "SESSION_REAPER_CONSOLE_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr


def test_tokens_and_session_ids_never_reach_the_logs(console: Any, emulator: Any) -> None:
    cid = emulator.create_conversation(idle_chat(45))["id"]
    console.start("--log-level", "debug")
    console.wait_entry(cid)
    client = login(console, OPERATOR_TOKEN, "Grace")
    csrf = client.get("/api/console/session").json()["csrfToken"]
    client.post(
        f"/api/console/conversations/{cid}/exempt", json={"exempt": True}, headers={"X-CSRF-Token": csrf}
    )
    console.call("GET", "/api/console/conversations", token=VIEWER_TOKEN)
    console.call("POST", f"/api/console/conversations/{cid}/close", token="wrong-" + OPERATOR_TOKEN)
    console.serve.stop()
    logs = console.serve.stderr()
    assert "console exempt" in logs  # the act is logged, its credentials are not
    for secret in (OPERATOR_TOKEN, VIEWER_TOKEN, client.cookies["session_reaper_console"], csrf):
        assert secret not in logs
