"""`report` breaks the figures down by organization when the ledger's rows name them (with [orgs]):
in JSON (`byOrg`), on the terminal and on the page (a table); a ledger without orgs shows none."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner, Result

from session_reaper.commands.cli import app
from session_reaper.ledger import Ledger
from tests.helpers.pages import parse

from .conftest import T0, Close, FakeClock, close


def fill(url: str) -> None:
    """acme: two sweeps, 3 closes, 20 requests; globex: one sweep, 1 close and 1 failure, 8 requests."""
    clock = FakeClock(T0)
    with Ledger.open(url, clock=clock) as ledger:
        acme, globex = ledger.for_org("acme"), ledger.for_org("globex")
        for n, org_ledger, org in ((0, acme, "a"), (1, acme, "b"), (2, globex, "g")):
            at = T0 + timedelta(minutes=10 * n)
            sweep = org_ledger.start_sweep(True, at=at)
            closing = 1 if org != "a" else 2
            for i in range(closing):
                close(org_ledger, sweep, Close(f"{org}-{i}", "idle", "q-sales", at))
            if org == "g":
                failed = org_ledger.record_decision(sweep, "g-fail", decision="close", rule="idle", at=at)
                org_ledger.set_decision_outcome(failed, "failed", error="still connected", at=at)
            summary = {"closed": closing, "apiRequests": 10 if org != "g" else 8}
            org_ledger.finish_sweep(sweep, summary, at=at + timedelta(minutes=1))


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(
        app,
        ["report", "--config", str(config), "--since", "1d", *args],
        env={"SESSION_REAPER_CONFIG": "", "COLUMNS": "160"},
    )


def config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "session-reaper.toml"
    path.write_text(f'[sweep]\nledger = "{url}"\n', encoding="utf-8")
    return path


def test_json_terminal_and_page_break_the_figures_down_by_org(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/reaper.db"
    fill(url)
    path = config(tmp_path, url)

    as_json = run(path, "--json")
    terminal = run(path)
    page_file = tmp_path / "report.html"
    assert run(path, "--html", str(page_file)).exit_code == 0

    assert as_json.exit_code == 0, as_json.output
    by_org = json.loads(as_json.stdout)["byOrg"]
    assert by_org == {
        "acme": {
            "sweeps": 2,
            "appliedSweeps": 2,
            "close": 3,
            "teardown": 0,
            "wrapup": 0,
            "warn": 0,
            "failed": 0,
            "apiRequests": 20,
            "requestsPerClose": 6.67,
        },
        "globex": {
            "sweeps": 1,
            "appliedSweeps": 1,
            "close": 1,
            "teardown": 0,
            "wrapup": 0,
            "warn": 0,
            "failed": 1,
            "apiRequests": 8,
            "requestsPerClose": 8.0,
        },
    }
    assert terminal.exit_code == 0, terminal.output
    assert "By organization" in terminal.stdout
    lines = {line.split("│")[1].strip(): line for line in terminal.stdout.splitlines() if line.count("│") > 5}
    assert {"acme", "globex"} <= set(lines)
    page = page_file.read_text(encoding="utf-8")
    assert parse(page).problems == []
    section = page.split("<h2>By organization</h2>")[1].split("</section>")[0]
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", section, re.S)]
    rows = [cells for cells in rows if cells]
    assert [cells[0] for cells in rows] == ["acme", "globex"]
    assert rows[0][1:3] == ["2", "3"]  # sweeps, closed


def test_a_ledger_without_orgs_shows_no_org_breakdown(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/reaper.db"
    clock = FakeClock(T0)
    with Ledger.open(url, clock=clock) as ledger:
        sweep = ledger.start_sweep(True, at=T0)
        close(ledger, sweep, Close("c-1", "idle", "q-sales", T0))
        ledger.finish_sweep(sweep, {"closed": 1, "apiRequests": 5}, at=T0)
    path = config(tmp_path, url)

    assert json.loads(run(path, "--json").stdout)["byOrg"] == {}
    assert "By organization" not in run(path).stdout
