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
