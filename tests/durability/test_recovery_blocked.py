"""Found by the soak (benchmarks/soak.py): an open intent whose conversation the platform will not
answer for stops every sweep, not just that conversation.

A replica killed mid-act leaves a journalled intent without an outcome; every `sweep --apply` first
resolves such intents by reading their conversations (engine/recovery.py). When that one read fails
after its retries (a 5xx that persists for this conversation, or 429s), the error leaves the recovery
loop and the whole pass is given up ("sweep failed"), pass after pass: no other conversation is
decided while the platform keeps failing for that one. The standard says one conversation's failure
never stops the others.
"""

from __future__ import annotations

from typing import Any

import pytest

from session_reaper.ledger import Ledger
from tests.helpers.scenarios import ended, idle_chat, writes
from tests.scenarios.conftest import Reaper


@pytest.mark.parametrize("status", [500, 502, 503])
def test_an_open_intent_the_platform_fails_for_blocks_no_other_conversation(
    emulator: Any, tmp_path: Any, conversation_view: Any, status: int
) -> None:
    stuck, *others = emulator.create_conversations([idle_chat(50 + i) for i in range(6)])
    reaper = Reaper(emulator.base_url, tmp_path)
    assert reaper.sweep(apply=False).code == 0  # the ledger exists, migrated; nothing acted
    agent = next(p["id"] for p in conversation_view(stuck)["participants"] if p["purpose"] == "agent")
    with Ledger.open(reaper.ledger_url) as ledger:  # what a replica killed between intent and outcome leaves
        sweep_id = ledger.start_sweep(True, owner="killed-replica")
        decision_id = ledger.record_decision(sweep_id, stuck, decision="close", rule="idle")
        ledger.step_intent(decision_id, stuck, "disconnect:agent", agent)
    emulator.fault(method="GET", path=f"/api/v2/conversations/{stuck}$", status=status)

    # the storm's retries are all made, after short waits: what matters is that they end in a failure
    storm = {"sweep": {"requests_per_minute": 100000, "retry_backoff": "20ms"}}
    run = reaper.sweep(config=storm, timeout=240)

    assert [cid for cid in others if not ended(conversation_view(cid))] == [], run.stderr[-1500:]
    # The stuck one: its interrupted step is not settled, so nothing at all is sent to it this pass...
    assert writes(emulator.requests(), stuck) == []
    line = next(line for line in run.lines if line["conversationId"] == stuck)
    assert (line["decision"], line["outcome"]) == ("skip", "failed")
    assert run.code == 1

    # ... and once the platform answers for it again, the next pass settles the intent and closes it.
    emulator.clear_faults()
    assert not ended(conversation_view(stuck))
    again = reaper.sweep(config={"sweep": {"requests_per_minute": 100000}}, timeout=240)
    assert again.code == 0, again.stderr[-1500:]
    assert ended(conversation_view(stuck))
    with Ledger.open(reaper.ledger_url) as ledger:
        assert ledger.pending_steps() == []
