"""Many organizations from one command: `[orgs.NAME]` tables, `--org`, one failure domain per org.

The real `session-reaper` process against one emulator holding two organizations (acme, globex),
each an OAuth client of its own that sees only its organization's conversations. What is judged:
the platform's state, which client sent each request (the request log's `clientId`), exit codes,
the lines printed, and the ledger's rows.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.scenarios import ended, idle_chat
from tests.scenarios.conftest import Reaper, ReaperRun

_ids = itertools.count()


class Orgs:
    """Two organizations' clients in the emulator, their env variables, and a config naming both."""

    def __init__(self, emulator: Any, reaper: Reaper, *, globex_permissions: list[str] | None = None) -> None:
        n = next(_ids)
        self.emulator, self.reaper = emulator, reaper
        self.client = {"acme": f"acme-{n}", "globex": f"globex-{n}"}
        self.secret = {"acme": f"acme-secret-{n}-value", "globex": f"globex-secret-{n}-value"}
        for org in ("acme", "globex"):
            permissions = globex_permissions if org == "globex" else None
            emulator.add_client(
                self.client[org], self.secret[org], permissions, rateLimitPerMinute=100_000, organization=org
            )
        self.env = {
            "ACME_ID": self.client["acme"],
            "ACME_SECRET": self.secret["acme"],
            "GLOBEX_ID": self.client["globex"],
            "GLOBEX_SECRET": self.secret["globex"],
        }

    def config(self, extra: str = "") -> str:
        return (
            f'[sweep]\nledger = "{self.reaper.ledger_url}"\nverify_timeout = "5s"\n\n'
            f'[orgs.acme]\nclient_id_env = "ACME_ID"\nclient_secret_env = "ACME_SECRET"\n'
            f'api_url = "{self.emulator.base_url}"\nrequests_per_minute = 200\n\n'
            f'[orgs.globex]\nclient_id_env = "GLOBEX_ID"\nclient_secret_env = "GLOBEX_SECRET"\n'
            f'api_url = "{self.emulator.base_url}"\n' + extra
        )

    def chat(self, org: str, minutes: int = 45) -> str:
        return str(self.emulator.create_conversation(idle_chat(minutes, organization=org))["id"])

    def run(self, *args: str, extra: str = "", env: dict[str, str] | None = None) -> ReaperRun:
        return self.reaper.run(*args, config_text=self.config(extra), env={**self.env, **(env or {})})

    def senders(self) -> set[str]:
        return {r["clientId"] for r in self.emulator.requests() if r.get("clientId")}


@pytest.fixture
def orgs(emulator: Any, reaper: Reaper) -> Orgs:
    return Orgs(emulator, reaper)


def _view(emulator: Any, client: str, secret: str, conversation_id: str) -> dict[str, Any]:
    from genesys_emulator.client import platform_client

    with platform_client(emulator.base_url, client, secret) as platform:
        answer = platform.get(f"/api/v2/conversations/{conversation_id}")
        answer.raise_for_status()
        return answer.json()  # type: ignore[no-any-return]


def _ended(orgs: Orgs, org: str, conversation_id: str) -> bool:
    return ended(_view(orgs.emulator, orgs.client[org], orgs.secret[org], conversation_id))


def _ledger_orgs(reaper: Reaper) -> dict[str, str | None]:
    path = reaper.ledger_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT conversation_id, org FROM decisions").fetchall()
    return dict(rows)


def test_sweep_with_org_touches_only_that_organization_with_only_its_client(orgs: Orgs) -> None:
    mine, theirs = orgs.chat("acme"), orgs.chat("globex")
    run = orgs.run("sweep", "--apply", "--json", "--org", "acme")
    assert run.code == 0, run.stderr
    assert run.line(mine)["outcome"] == "done"
    assert [line["conversationId"] for line in run.lines] == [mine]
    assert all(line["org"] == "acme" for line in run.lines)
    assert run.summary is not None and run.summary["closed"] == 1
    assert json.loads(run.stdout.splitlines()[-1])["org"] == "acme"  # the summary line too
    assert orgs.senders() == {orgs.client["acme"]}  # globex's client never used
    assert _ended(orgs, "acme", mine)
    assert not _ended(orgs, "globex", theirs)
    assert _ledger_orgs(orgs.reaper) == {mine: "acme"}


def test_sweep_over_every_org_with_one_bad_secret_still_closes_the_other(orgs: Orgs) -> None:
    mine, theirs = orgs.chat("acme"), orgs.chat("globex")
    run = orgs.run("sweep", "--apply", "--json", env={"GLOBEX_SECRET": "a-wrong-secret-value"})
    assert run.code == 3, run.stdout + run.stderr
    assert "error: org globex:" in run.stderr
    assert "Traceback" not in run.stderr
    assert run.line(mine)["outcome"] == "done" and run.line(mine)["org"] == "acme"
    assert _ended(orgs, "acme", mine)
    assert not _ended(orgs, "globex", theirs)
    for secret in ("a-wrong-secret-value", orgs.secret["acme"], orgs.secret["globex"]):
        assert secret not in run.stdout + run.stderr


def test_one_organizations_outage_is_its_own_the_other_is_swept(orgs: Orgs) -> None:
    mine, theirs = orgs.chat("acme"), orgs.chat("globex")
    orgs.emulator.fault(path=".*analytics.*", status=503, clientId=orgs.client["globex"])
    # globex's discovery is retried as always, after short waits (its own override: only it meets 5xx)
    run = orgs.run("sweep", "--apply", "--json", extra='[orgs.globex.sweep]\nretry_backoff = "20ms"\n')
    assert run.code == 1, run.stdout + run.stderr
    assert "error: org globex: the pass could not finish" in run.stderr
    assert _ended(orgs, "acme", mine) and not _ended(orgs, "globex", theirs)
    summaries = [json.loads(ln) for ln in run.stdout.splitlines() if '"summary"' in ln]
    assert [s["org"] for s in summaries] == ["acme", "globex"]


def test_each_organization_decides_by_its_own_policy(orgs: Orgs) -> None:
    mine, theirs = orgs.chat("acme"), orgs.chat("globex")
    run = orgs.run("sweep", "--json", extra='[orgs.globex.rules.idle]\nafter = "60m"\n')
    assert run.code == 0, run.stderr
    assert (run.line(mine)["decision"], run.line(mine)["org"]) == ("close", "acme")
    assert run.line(theirs)["decision"] != "close" and run.line(theirs)["org"] == "globex"
    assert {line["org"] for line in run.lines} == {"acme", "globex"}
    # a dry run: nothing changed anywhere; each org's decisions are journalled under its name
    assert not _ended(orgs, "acme", mine) and not _ended(orgs, "globex", theirs)
    assert _ledger_orgs(orgs.reaper) == {mine: "acme", theirs: "globex"}


def test_explain_finds_the_conversation_in_its_organization(orgs: Orgs) -> None:
    theirs = orgs.chat("globex")
    run = orgs.run("explain", theirs)
    assert run.code == 0, run.stderr
    assert "Organization globex" in run.stdout and theirs in run.stdout
    wrong = orgs.run("explain", theirs, "--org", "acme")
    assert wrong.code == 2 and f"conversation {theirs} not found in acme" in wrong.stderr


def test_doctor_checks_every_organization_in_a_section_of_its_own(emulator: Any, reaper: Reaper) -> None:
    no_disconnect = ["analytics:conversationDetail:view", "conversation:communication:view"]
    orgs = Orgs(emulator, reaper, globex_permissions=no_disconnect)
    run = orgs.run("doctor")
    assert run.code == 3, run.stdout + run.stderr
    acme, globex = run.stdout.split("── organization acme ──")[1].split("── organization globex ──")
    assert "✓ organization: acme" in acme and "✗" not in acme
    assert "✓ organization: globex" in globex and "✗ permission" in globex
    assert "ACME_ID" in acme and "GLOBEX_ID" in globex

    only = orgs.run("doctor", "--org", "acme")
    assert only.code == 0, only.stdout
    assert "── organization acme ──" in only.stdout and "── organization globex" not in only.stdout
    assert "GLOBEX" not in only.stdout

    as_json = json.loads(orgs.run("doctor", "--json").stdout)
    assert [(s["org"], s["exitCode"]) for s in as_json["orgs"]] == [("acme", 0), ("globex", 3)]
    assert as_json["exitCode"] == 3

    missing = orgs.run("doctor", env={"GLOBEX_SECRET": ""})
    assert missing.code == 2
    assert "GLOBEX_SECRET is not set" in missing.stdout.split("── organization globex ──")[1]

    unknown = orgs.run("doctor", "--org", "initech")
    assert unknown.code == 2 and "(configured: acme, globex)" in unknown.stdout


def test_without_orgs_no_line_names_an_org(emulator: Any, reaper: Reaper) -> None:
    emulator.create_conversation(idle_chat(45))
    run = reaper.sweep(apply=False)
    assert run.code == 0, run.stderr
    assert run.lines and all("org" not in line for line in run.lines)
    assert run.summary is not None and "org" not in json.loads(run.stdout.splitlines()[-1])
    assert set(_ledger_orgs(reaper).values()) == {None}


def test_a_plan_is_carried_out_per_organization(orgs: Orgs, tmp_path: Path) -> None:
    mine, theirs = orgs.chat("acme"), orgs.chat("globex")
    plan = tmp_path / "plan.jsonl"
    dry = orgs.run("sweep", "--json")
    assert dry.code == 0
    plan.write_text(dry.stdout)
    run = orgs.run("sweep", "--apply", "--json", "--plan", str(plan))
    assert run.code == 0, run.stderr
    assert (run.line(mine)["org"], run.line(theirs)["org"]) == ("acme", "globex")
    assert _ended(orgs, "acme", mine) and _ended(orgs, "globex", theirs)


def test_scan_shows_a_table_per_organization_and_says_which_one_failed(orgs: Orgs) -> None:
    mine, theirs = orgs.chat("acme"), orgs.chat("globex")
    run = orgs.run("scan", env={"GLOBEX_SECRET": "a-wrong-secret-value"})
    assert run.code == 3, run.stdout + run.stderr
    assert "Organization acme" in run.stdout and mine in run.stdout
    assert "Organization globex" not in run.stdout and theirs not in run.stdout
    assert "error: org globex:" in run.stderr and "a-wrong-secret-value" not in run.stdout + run.stderr
    both = orgs.run("scan")
    assert both.code == 0, both.stderr
    assert both.stdout.index("Organization acme") < both.stdout.index(mine)
    assert both.stdout.index("Organization globex") < both.stdout.index(theirs)
