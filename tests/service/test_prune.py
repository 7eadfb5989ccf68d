"""A long-running service keeps its journal bounded: week-old inaction goes, what acted stays."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta

from session_reaper.commands.runtime import open_runtime
from session_reaper.commands.serve.service import Service
from session_reaper.config import parse_settings
from session_reaper.ledger import Ledger
from session_reaper.telemetry.metrics import Metrics


def test_a_pass_prunes_week_old_inaction_but_keeps_what_acted(emulator, tmp_path):
    ledger_file = tmp_path / "ledger.db"
    url = f"sqlite:///{ledger_file}"
    now = emulator.now()
    old, recent = now - timedelta(days=9), now - timedelta(days=1)
    with Ledger.open(url) as ledger:
        sweep = ledger.start_sweep(True, at=old)
        ledger.record_decision(sweep, "old-skip", decision="skip", outcome="skipped", at=old)
        acted = ledger.record_decision(sweep, "old-close", decision="close", outcome="done", at=old)
        step = ledger.step_intent(acted, "old-close", "disconnect:agent", "agent-1", at=old)
        ledger.step_outcome(step, "done", at=old)
        ledger.record_decision(sweep, "recent-skip", decision="skip", outcome="skipped", at=recent)
    settings = parse_settings(f'[sweep]\nledger = "{url}"\n')
    environ = {
        "GENESYSCLOUD_OAUTHCLIENT_ID": "emulator",
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": "emulator-secret",
        "GENESYSCLOUD_API_URL": emulator.base_url,
    }

    async def one_pass() -> None:
        async with open_runtime(settings, environ) as runtime:
            await Service(runtime, Metrics(), apply=False).sweep_once()

    asyncio.run(one_pass())

    with sqlite3.connect(ledger_file) as db:
        left = {row[0] for row in db.execute("SELECT conversation_id FROM decisions")}
    assert "old-skip" not in left
    assert {"old-close", "recent-skip"} <= left


def test_the_retention_is_the_configured_one_and_a_second_pass_within_the_hour_prunes_nothing(
    emulator, tmp_path
):
    ledger_file = tmp_path / "ledger.db"
    url = f"sqlite:///{ledger_file}"
    now = emulator.now()
    with Ledger.open(url) as ledger:
        sweep = ledger.start_sweep(True, at=now - timedelta(days=3))
        for name, age in (("three-days", 3), ("one-day", 1)):
            at = now - timedelta(days=age)
            ledger.record_decision(sweep, name, decision="skip", outcome="skipped", at=at)
    settings = parse_settings(f'[sweep]\nledger = "{url}"\njournal_retention = "2d"\n')
    environ = {
        "GENESYSCLOUD_OAUTHCLIENT_ID": "emulator",
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": "emulator-secret",
        "GENESYSCLOUD_API_URL": emulator.base_url,
    }

    def left() -> set[str]:
        with sqlite3.connect(ledger_file) as db:
            return {row[0] for row in db.execute("SELECT conversation_id FROM decisions")}

    async def passes() -> list[set[str]]:
        seen = []
        async with open_runtime(settings, environ) as runtime:
            service = Service(runtime, Metrics(), apply=False)
            await service.sweep_once()
            seen.append(left())
            with Ledger.open(url) as ledger:  # a row that is now 2 days and a minute old
                at = emulator.now() - timedelta(days=2, minutes=1)
                ledger.record_decision(sweep, "late", decision="skip", outcome="skipped", at=at)
            await service.sweep_once()  # the same platform hour: not pruned yet
            seen.append(left())
            emulator.advance(3660)
            await service.sweep_once()  # an hour on (the Date header has whole seconds): pruned
            seen.append(left())
        return seen

    first, same_hour, hour_on = asyncio.run(passes())
    assert "three-days" not in first and "one-day" in first
    assert "late" in same_hour
    assert "late" not in hour_on and "one-day" in hour_on


def test_a_retention_under_an_hour_is_refused_naming_the_key(tmp_path):
    import pytest

    from session_reaper.config import ConfigError

    with pytest.raises(ConfigError, match=r"journal_retention: must be at least 1h"):
        parse_settings('[sweep]\njournal_retention = "30m"\n')
