"""The console in a real browser: headless Chromium (Playwright) against a real `serve --apply` process.

Each test starts `serve` on loopback against the per-test emulator world with its own SQLite ledger and
the two console tokens, signs in through the form and does what a supervisor does; what happened is
judged on the platform (the emulator's state and request log), never from the page alone. One browser
per module; each test has its own browser context (its own cookies). Time is the emulator's: nothing
here sleeps through a threshold; Playwright's expectations poll the page until it shows what it must.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.console.console_harness import OPERATOR_TOKEN as OPERATOR
from tests.console.console_harness import VIEWER_TOKEN as VIEWER
from tests.console.console_harness import Starter, customer_attributes, ended
from tests.environment import CHROMIUM, require_chromium
from tests.helpers.scenarios import idle_chat, writes
from tests.service.serve_harness import wait_until

EXEMPT = "reaper.exempt"  # `[sweep] exempt_attribute`'s default
SHOWN = 15_000  # ms a page may take to show what the service decided (the sweep runs every second)
expect.set_options(timeout=SHOWN)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(SHOWN)
    tab = context.new_page()
    yield tab
    context.close()


def start(console: Starter, extra: str = "") -> Starter:
    console.start("--apply", extra=extra)
    return console


def sign_in(page: Page, console: Starter, token: str = OPERATOR, name: str = "Dana Supervisor") -> None:
    page.goto(console.url + "/console")
    expect(page).to_have_url(re.compile(r"/console/login$"))  # not signed in: the form
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Console token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Conversations in scope")).to_be_visible()


# Every visible text against the background it is drawn on: WCAG 2's contrast ratio, AA's 4.5:1.
LOW_CONTRAST = """() => {
  const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
  const channel = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const behind = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c;
    }
    return [255, 255, 255];
  };
  const low = [];
  for (const el of document.querySelectorAll("body *")) {
    if (!el.getClientRects().length) continue;
    if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    const a = luminance(rgb(getComputedStyle(el).color)), b = luminance(behind(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) low.push(`${el.tagName} "${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
  return low;
}"""


def row(page: Page, conversation_id: str) -> Any:
    return page.locator(f'#live tr[data-conversation="{conversation_id}"]')


def confirm(page: Page, label: str) -> None:
    """The page's own confirmation step: a modal dialog, confirmed with its button."""
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=label).click()
    expect(dialog).to_be_hidden()


def test_sign_in_see_a_stale_conversation_with_its_reason_and_countdown_then_sign_out(
    emulator: Any, console: Starter, page: Page
) -> None:
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(start(console).url + "/console/login")
    page.get_by_label("Your name").fill("Dana")
    page.get_by_label("Console token").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not a console token")

    stale = emulator.create_conversation(idle_chat(minutes=20))["id"]  # idle acts at 30 minutes
    sign_in(page, console)
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    session = page.evaluate("fetch('/api/console/session').then(r => r.json())")
    assert csrf and session == {"name": "Dana Supervisor", "role": "operator", "csrfToken": csrf}
    line = row(page, stale)
    expect(line).to_contain_text("idle")
    expect(line).to_contain_text(re.compile(r"last message \d+m ago \(idle after 30m\)"))  # the reason
    expect(line).to_contain_text("customer")  # who is connected
    countdown = line.locator("td.countdown")
    expect(countdown).to_have_text(re.compile(r"^(9|10)m \d\ds$"))  # ~10 minutes until eligible
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first)  # it counts down in the page, between polls too
    assert not writes(emulator.requests(), stale)  # seen, not touched
    assert page.evaluate(LOW_CONTRAST) == []

    page.get_by_label("Rule").select_option("customer-left")  # the filters: by rule, by queue
    expect(line).to_have_count(0)
    expect(page.get_by_text("No conversation in scope matches.")).to_be_visible()
    page.get_by_label("Rule").select_option("idle")
    page.get_by_label("Queue").select_option("queue-support")
    expect(line).to_contain_text("idle")
    expect(page).to_have_url(re.compile(r"\?queue=queue-support&rule=idle$"))

    page.get_by_role("link", name=stale).click()  # the explain view
    expect(page.get_by_role("heading", name="The exact calls it would make")).to_be_visible()
    expect(page.locator("#fact-rule")).to_have_text("idle")
    expect(page.locator("#fact-countdown")).to_have_text(re.compile(r"^(9|10)m \d\ds$"))
    expect(page.get_by_text("None now: it is not eligible yet.")).to_contain_text("closing-text")
    assert page.evaluate(LOW_CONTRAST) == []

    assert asked and all(url.startswith(console.url + "/") for url in asked)  # no CDN, no network
    assert any("/console/static/console.js" in url for url in asked)

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/console/login$"))
    page.goto(console.url + "/console")
    expect(page).to_have_url(re.compile(r"/console/login$"))  # the session is gone


def test_an_approved_close_ends_the_conversation_on_the_platform_a_rejected_one_stays(
    emulator: Any, console: Starter, page: Page
) -> None:
    stale, spared = emulator.create_conversations([idle_chat(minutes=45), idle_chat(minutes=50)])
    start(console, "[rules.idle]\napproval = true\n")
    sign_in(page, console)
    pending = page.locator(f'#pending tr[data-conversation="{stale}"]')
    expect(pending).to_contain_text("idle")
    assert not ended(emulator, stale)  # waiting for an operator: nothing done
    assert not writes(emulator.requests(), stale)

    page.get_by_role("link", name=stale).first.click()  # its explain view: the calls a close makes
    expect(page.locator("ol.calls")).to_contain_text(f"/api/v2/conversations/messages/{stale}/participants/")
    expect(page.get_by_text("waiting for approval")).to_be_visible()
    page.go_back()

    pending.get_by_role("button", name=f"Approve closing {stale}").click()
    confirm(page, "Approve")
    expect(page.locator("#outcome")).to_contain_text("approved")
    wait_until(lambda: ended(emulator, stale), "the approved conversation to end")
    expect(row(page, stale)).to_have_count(0)  # ended: out of the live view

    page.get_by_role("button", name=f"Reject closing {spared}").click()
    confirm(page, "Reject")
    expect(page.locator("#outcome")).to_contain_text("rejected")
    expect(page.locator(f'#pending tr[data-conversation="{spared}"]')).to_have_count(0)
    expect(page.get_by_text("No decision waits for approval.")).to_be_visible()
    console.wait_passes()  # the rule does not ask again, nor act
    assert not ended(emulator, spared) and not writes(emulator.requests(), spared)


def test_close_now_and_exempt_and_lift_it(emulator: Any, console: Starter, page: Page) -> None:
    to_close, to_exempt = emulator.create_conversations([idle_chat(minutes=5), idle_chat(minutes=5)])
    sign_in(page, start(console))

    row(page, to_close).get_by_role("button", name=f"Close {to_close} now").click()
    confirm(page, "Close now")
    expect(page.locator("#outcome")).to_contain_text("done")
    wait_until(lambda: ended(emulator, to_close), "the conversation closed now to end")
    expect(row(page, to_close)).to_have_count(0)
    expect(page.locator("#outcome")).to_be_focused()  # the keyboard is not left on a row that went

    # From the keyboard: the dialog opens on Cancel, and Escape cancels: nothing is written.
    row(page, to_exempt).get_by_role("button", name=f"Exempt {to_exempt}").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog").get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(row(page, to_exempt).get_by_role("button", name=f"Exempt {to_exempt}")).to_be_focused()
    assert not writes(emulator.requests(), to_exempt)

    row(page, to_exempt).get_by_role("button", name=f"Exempt {to_exempt}").press("Enter")
    page.keyboard.press("Tab")  # Cancel -> Exempt
    expect(page.get_by_role("dialog").get_by_role("button", name="Exempt")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.locator("#outcome")).to_contain_text("is exempt")
    assert customer_attributes(emulator, to_exempt).get(EXEMPT) == "true"  # on the platform
    expect(row(page, to_exempt)).to_contain_text("exempt")
    assert not ended(emulator, to_exempt)

    row(page, to_exempt).get_by_role("button", name=f"Lift the exemption of {to_exempt}").click()
    confirm(page, "Lift exemption")
    expect(page.locator("#outcome")).to_contain_text("exemption lifted")
    assert customer_attributes(emulator, to_exempt).get(EXEMPT) != "true"

    page.get_by_role("link", name="History").click()  # the report's figures, the acts by name
    page.get_by_label("Period", exact=True).select_option("1h")
    page.get_by_role("button", name="Show").click()
    heading = page.get_by_role("heading", name="Console actions")
    acts = page.locator("section", has=heading).locator("tbody tr")
    expect(acts).to_have_count(3)
    for conversation_id in (to_close, to_exempt):
        expect(acts.filter(has_text=conversation_id).first).to_contain_text("Dana Supervisor")


def test_a_viewer_sees_no_act_and_an_act_is_refused(emulator: Any, console: Starter, page: Page) -> None:
    stale = emulator.create_conversation(idle_chat(minutes=5))["id"]
    sign_in(page, start(console), token=VIEWER, name="Val Viewer")
    expect(row(page, stale)).to_contain_text("idle")
    expect(page.locator("button[data-act]")).to_have_count(0)
    expect(page.get_by_text("(viewer)")).to_be_visible()

    # What a hand-made request from the viewer's own page gets: 403, with its valid CSRF token.
    answer = page.evaluate(
        """async (id) => {
            const csrf = document.querySelector('meta[name="csrf-token"]').content;
            const r = await fetch(`/api/console/conversations/${id}/close`, {method: "POST",
                headers: {"X-CSRF-Token": csrf, "Content-Type": "application/json"}, body: "{}"});
            return [r.status, (await r.json()).error];
        }""",
        stale,
    )
    assert answer == [403, "forbidden"]
    assert not writes(emulator.requests(), stale)
    assert not ended(emulator, stale)
