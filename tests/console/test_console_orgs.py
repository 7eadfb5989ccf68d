"""The console of a `serve --apply` with `[orgs.NAME]` tables: one replica holding two organizations.

Each organization is a client of its own in one emulator, with its own conversations and its own
policy (acme's idle closes wait for approval; globex's idle rule waits 2h). The console lists both
organizations' conversations, each naming its org; filters by org; a close now on a globex
conversation goes through globex's client (the emulator's request log, by clientId) and the ledger
names the operator and the org; an approval of acme's pending decision ends it through acme's client.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect, sync_playwright
from sqlalchemy import create_engine, select

from session_reaper.ledger import normalize_url
from session_reaper.ledger.schema import console_actions, decisions, pending_decisions
from tests.console.console_harness import OPERATOR_TOKEN, TOKENS, VIEWER_TOKEN, Starter, idle_chat
from tests.environment import CHROMIUM, require_chromium

ORGS = {
    "acme": "[orgs.acme.rules.idle]\napproval = true\n",
    "globex": '[orgs.globex.rules.idle]\nafter = "2h"\n',
}


def start_with_orgs(console: Starter, emulator: Any) -> None:
    environment = dict(TOKENS)
    tables = []
    for name, policy in ORGS.items():
        emulator.add_client(f"{name}-client", f"{name}-secret", organization=name)
        upper = name.upper()
        environment |= {f"{upper}_CLIENT_ID": f"{name}-client", f"{upper}_CLIENT_SECRET": f"{name}-secret"}
        tables.append(
            f'[orgs.{name}]\nclient_id_env = "{upper}_CLIENT_ID"\n'
            f'client_secret_env = "{upper}_CLIENT_SECRET"\napi_url = "{emulator.base_url}"\n{policy}'
        )
    # a short org lease: the replica claims both orgs within a couple of seconds
    serve = console.serve.start(
        "--apply", sweep={"org_lease": "3s"}, environment=environment, extra="\n".join(tables)
    )
    serve.wait_ready()


def ended(emulator: Any, conversation_id: str) -> bool:
    """Everyone has left (the admin's view: it sees every organization's conversations)."""
    view = emulator.conversation(conversation_id)
    return all(p["state"] in ("disconnected", "terminated") for p in view["participants"])


def clients_writing(emulator: Any, conversation_id: str) -> set[str]:
    return {
        r["clientId"]
        for r in emulator.requests()
        if conversation_id in r["path"] and r["method"] in ("PATCH", "POST", "PUT", "DELETE")
    }


def rows(url: str, query: Any) -> list[Any]:
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as connection:
            return list(connection.execute(query).all())
    finally:
        engine.dispose()


def test_the_console_serves_every_org_held_and_acts_through_each_conversations_org(
    console: Starter, emulator: Any, tmp_path: Path
) -> None:
    waiting_a = emulator.create_conversation({**idle_chat(45), "organization": "acme"})["id"]
    later_b = emulator.create_conversation({**idle_chat(45), "organization": "globex"})["id"]
    other_b = emulator.create_conversation({**idle_chat(10, queue="queue-sales"), "organization": "globex"})[
        "id"
    ]
    start_with_orgs(console, emulator)

    # the live view lists both organizations' conversations, each with its org
    entry_a = console.wait_entry(waiting_a, lambda e: e["decision"] == "pending", "acme's pending close")
    entry_b = console.wait_entry(later_b)
    assert entry_a["org"] == "acme" and entry_a["rule"] == "idle" and entry_a["pendingDecisionId"]
    assert entry_b["org"] == "globex" and entry_b["decision"] == "skip"  # globex's idle waits 2h
    assert 0 < entry_b["secondsUntilEligible"] <= 75 * 60
    console.wait_entry(other_b)
    by_org = {c["conversationId"]: c["org"] for c in console.conversations()}
    assert by_org == {waiting_a: "acme", later_b: "globex", other_b: "globex"}
    # filters: by org, and by org and queue together
    assert {c["conversationId"] for c in console.conversations(org="globex")} == {later_b, other_b}
    assert [c["conversationId"] for c in console.conversations(org="acme")] == [waiting_a]
    assert [c["conversationId"] for c in console.conversations(org="globex", queue="queue-sales")] == [
        other_b
    ]
    assert console.conversations(org="initech") == []
    # the explain view names the org too
    explained = console.call("GET", f"/api/console/conversations/{later_b}")
    assert explained.status_code == 200, explained.text
    assert explained.json()["org"] == "globex" and explained.json()["timeline"]
    # the page: an org column and filter
    page = console.call("GET", "/console")
    assert page.status_code == 200 and 'id="filter-org"' in page.text
    assert '<option value="acme">acme</option>' in page.text and ">Organization</th>" in page.text

    # refused without auth or as a viewer, as without orgs: nothing sent
    refused = console.call("POST", f"/api/console/conversations/{later_b}/close", token=None)
    assert refused.status_code == 401
    viewer = console.call("POST", f"/api/console/conversations/{later_b}/close", token=VIEWER_TOKEN)
    assert viewer.status_code == 403
    assert clients_writing(emulator, later_b) == set()

    # close now on globex's conversation: through globex's client, recorded with the operator
    closed = console.call("POST", f"/api/console/conversations/{later_b}/close", user="Grace")
    assert closed.status_code == 200, closed.text
    assert (closed.json()["outcome"], closed.json()["operator"]) == ("done", "Grace")
    assert ended(emulator, later_b)
    assert clients_writing(emulator, later_b) == {"globex-client"}
    url = console.serve.ledger_url
    acted = rows(
        url,
        select(console_actions.c.operator, console_actions.c.action, console_actions.c.org).where(
            console_actions.c.conversation_id == later_b
        ),
    )
    assert acted == [("Grace", "close", "globex")]
    closing = rows(
        url,
        select(decisions.c.operator, decisions.c.org).where(
            decisions.c.conversation_id == later_b, decisions.c.outcome == "done"
        ),
    )
    assert closing == [("Grace", "globex")]
    assert not ended(emulator, other_b)  # the other globex conversation is left alone

    # acme's pending decision names its org; approving it ends the conversation through acme's client
    pending = console.call("GET", "/api/console/pending").json()["pending"]
    assert [(p["conversationId"], p["org"]) for p in pending] == [(waiting_a, "acme")]
    assert clients_writing(emulator, waiting_a) == set()  # waiting: nothing sent
    decision = pending[0]["decisionId"]
    approved = console.call("POST", f"/api/console/pending/{decision}", user="Ada", json={"approve": True})
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert (body["status"], body["outcome"], body["operator"]) == ("approved", "done", "Ada")
    assert ended(emulator, waiting_a)
    assert clients_writing(emulator, waiting_a) == {"acme-client"}
    stored = rows(
        url,
        select(pending_decisions.c.status, pending_decisions.c.operator, pending_decisions.c.org).where(
            pending_decisions.c.decision_id == decision
        ),
    )
    assert stored == [("approved", "Ada", "acme")]
    # history is the report's JSON, by org
    history = console.call("GET", "/api/console/history?since=1d")
    assert history.status_code == 200, history.text
    assert {"acme", "globex"} <= set(history.json()["byOrg"])
    acts = {(a["conversationId"], a["action"], a["org"]) for a in history.json()["consoleActions"]}
    assert acts == {(later_b, "close", "globex"), (waiting_a, "approve", "acme")}


def test_without_orgs_the_answers_name_no_org_and_the_page_has_no_org_filter(
    console: Starter, emulator: Any
) -> None:
    cid = emulator.create_conversation(idle_chat(45))["id"]
    console.start()
    entry = console.wait_entry(cid)
    assert "org" not in entry
    explained = console.call("GET", f"/api/console/conversations/{cid}").json()
    assert "org" not in explained
    page = console.call("GET", "/console").text
    assert "filter-org" not in page and "Organization" not in page


@pytest.fixture
def browser() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


def test_the_page_shows_each_conversations_org_and_filters_by_org(
    console: Starter, emulator: Any, browser: Browser
) -> None:
    in_acme = emulator.create_conversation({**idle_chat(20), "organization": "acme"})["id"]
    in_globex = emulator.create_conversation({**idle_chat(20), "organization": "globex"})["id"]
    start_with_orgs(console, emulator)
    console.wait_entry(in_acme)
    console.wait_entry(in_globex)
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto(console.url + "/console/login")
        page.get_by_label("Your name").fill("Dana")
        page.get_by_label("Console token").fill(OPERATOR_TOKEN)
        page.get_by_role("button", name="Sign in").click()
        acme_row = page.locator(f'tr[data-conversation="{in_acme}"]').first
        globex_row = page.locator(f'tr[data-conversation="{in_globex}"]').first
        expect(acme_row.locator('[data-cell="org"]')).to_have_text("acme", timeout=15_000)
        expect(globex_row.locator('[data-cell="org"]')).to_have_text("globex")
        page.get_by_label("Organization").select_option("globex")
        expect(page).to_have_url(re.compile(r"[?]org=globex$"))
        expect(page.locator(f'#live tr[data-conversation="{in_acme}"]')).to_have_count(0)
        expect(page.locator(f'#live tr[data-conversation="{in_globex}"]')).to_have_count(1)
    finally:
        context.close()
