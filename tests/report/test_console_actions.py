"""What people did in the console, in every output of the report: terminal, JSON and HTML (escaped)."""

from __future__ import annotations

import io
from datetime import timedelta

from rich.console import Console

from session_reaper.commands.report.as_json import to_json
from session_reaper.commands.report.collect import collect
from session_reaper.commands.report.html import render_html
from session_reaper.commands.report.terminal import render_terminal
from session_reaper.ledger import Ledger

from .conftest import HOSTILE, NOW, T0


def test_console_actions_are_listed_by_the_report(ledger_url: str) -> None:
    with Ledger.open(ledger_url) as ledger:
        ledger.record_console_action("Grace", "close", "conv-1", detail="close (idle): done", at=T0)
        ledger.record_console_action(
            HOSTILE, "exempt", "conv-2", detail="reaper.exempt=true", at=T0 + timedelta(minutes=1)
        )
        ledger.record_console_action(
            "Ada", "reject", "conv-3", at=T0 - timedelta(days=9)
        )  # before the period
        data = collect(ledger, NOW - timedelta(days=7), NOW)
    assert [(a["operator"], a["action"], a["conversationId"]) for a in to_json(data)["consoleActions"]] == [
        ("Grace", "close", "conv-1"),
        (HOSTILE, "exempt", "conv-2"),
    ]
    assert to_json(data)["consoleActions"][0]["at"] == "2026-11-21T09:00:00Z"
    out = io.StringIO()
    render_terminal(Console(file=out, width=200, color_system=None), data)
    assert (
        "Console actions" in out.getvalue() and "Grace" in out.getvalue() and "conv-3" not in out.getvalue()
    )
    page = render_html(data)
    assert "Console actions" in page and "Grace" in page
    assert HOSTILE not in page and "&lt;script&gt;" in page
