"""The console's pages over plain HTTP against a real `serve`: what each page says, to whom, and how.

The browser tests (test_console_browser.py) drive the pages as a person would; these check what is
cheaper to check without a browser: redirects, the unconfigured console, the headers every page
carries, the CSRF token in the page, the server-rendered explain view for each role, and bad input.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx

from tests.console.console_harness import OPERATOR_TOKEN, VIEWER_TOKEN, ConsoleServe, idle_chat
from tests.helpers.pages import parse

PAGES = ("/console", "/console/history", "/console/conversations/whatever")


@contextlib.contextmanager
def signed_in(console: ConsoleServe, token: str, name: str = "Dana") -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console.url, timeout=30) as client:
        answer = client.post("/console/login", data={"name": name, "token": token})
        assert answer.status_code == 303 and answer.headers["location"] == "/console"
        yield client


def test_without_tokens_the_sign_in_page_says_the_console_is_not_configured(console: Any) -> None:
    console.serve.start()  # no SESSION_REAPER_CONSOLE_* variable
    console.serve.wait_ready()
    for path in PAGES:
        answer = httpx.get(console.url + path, timeout=30)
        assert answer.status_code == 303 and answer.headers["location"] == "/console/login", path
    login = httpx.get(console.url + "/console/login", timeout=30)
    assert login.status_code == 503
    assert "The console is not configured" in login.text and "SESSION_REAPER_CONSOLE_TOKEN" in login.text
    assert "<form" not in login.text  # nothing to sign in to
    assert not parse(login.text).problems


def test_every_page_carries_its_sessions_csrf_token_and_strict_headers(console: Any, emulator: Any) -> None:
    cid = emulator.create_conversation(idle_chat(10))["id"]
    console.start("--apply")
    with signed_in(console, OPERATOR_TOKEN, "Dana Supervisor") as client:
        csrf = client.get("/api/console/session").json()["csrfToken"]
        console.wait_entry(cid)
        for path in ("/console", "/console/history?since=24h", f"/console/conversations/{cid}"):
            page = client.get(path)
            assert page.status_code == 200, path
            assert f'<meta name="csrf-token" content="{csrf}">' in page.text, path
            assert "script-src 'self'" in page.headers["content-security-policy"]
            assert page.headers["cache-control"] == "no-store"
            assert page.headers["x-content-type-options"] == "nosniff"
            assert not parse(page.text).problems, (path, parse(page.text).problems)
            assert "Dana Supervisor" in page.text and "(operator)" in page.text
            assert OPERATOR_TOKEN not in page.text
        explain = client.get(f"/console/conversations/{cid}").text
        assert 'data-act="close"' in explain and 'data-act="exempt"' in explain
        script = client.get("/console/static/console.js")
        assert script.status_code == 200 and "X-CSRF-Token" in script.text


def test_a_viewers_pages_offer_no_act(console: Any, emulator: Any) -> None:
    cid = emulator.create_conversation(idle_chat(10))["id"]
    console.start("--apply")
    console.wait_entry(cid)
    with signed_in(console, VIEWER_TOKEN, "Val") as client:
        for path in ("/console", f"/console/conversations/{cid}"):
            page = client.get(path)
            assert page.status_code == 200 and "(viewer)" in page.text
            assert "data-act=" not in page.text and 'data-can-act="no"' in page.text, path


def test_an_unknown_conversation_and_a_bad_period_are_said_not_failed(console: Any) -> None:
    console.start()
    with signed_in(console, OPERATOR_TOKEN) as client:
        missing = client.get("/console/conversations/no-such-conversation")
        assert missing.status_code == 404 and "not in scope now" in missing.text
        history = client.get("/console/history", params={"since": "soon"})
        assert history.status_code == 200
        assert "Period &#39;soon&#39;" in history.text and "Showing 7d" in history.text
        odd = client.get("/console/history", params={"since": "90m"})
        assert odd.status_code == 200 and '<option value="90m" selected>' in odd.text
