"""Found by the soak (docs/reliability.md, run I): a close cut between its closing text and its disconnect
(the reaper SIGKILLed) was settled by the next pass's recovery ("disconnect not sent"), but the read
schedule still said not to read the conversation for hours, so nobody finished the close: the guest,
told the chat was closed, wrote again, and a day later got a second closing text. The pass whose
recovery settles an interrupted close decides that conversation again at once: the disconnect goes out,
and no second text.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from session_reaper.config import parse_settings
from session_reaper.core.model import ScheduledRead
from session_reaper.engine.read_schedule import policy_fingerprint
from session_reaper.ledger import Ledger
from tests.helpers.scenarios import idle_chat, participants_by_purpose, state_of, writes


def test_a_close_cut_between_its_text_and_its_disconnect_is_finished_by_the_next_pass(
    emulator: Any, reaper: Any, conversation_view: Any
) -> None:
    cid = emulator.create_conversation(idle_chat(50))["id"]
    view = conversation_view(cid)
    [agent] = participants_by_purpose(view, "agent")
    config = reaper.config()
    settings = parse_settings(config.read_text())
    now = emulator.now()
    # what the SIGKILLed pass left: the text sent and journalled, the disconnect's intent open (not sent),
    # and the read schedule of the decision: not to be read again for ten hours
    text = emulator.message(cid, "agent", "This chat was closed because it was inactive.")
    with Ledger.open(reaper.ledger_url) as ledger:
        sweep = ledger.start_sweep(True, owner="killed", at=now)
        decision = ledger.record_decision(sweep, cid, decision="close", rule="idle", reason="idle", at=now)
        done = ledger.step_intent(decision, cid, "closing-text", agent["id"], at=now)
        ledger.step_outcome(done, "done", at=now)
        ledger.record_reaper_message(cid, text["id"], "closing", sent_at=now)
        ledger.step_intent(decision, cid, "disconnect:agent", agent["id"], at=now)
        later = ScheduledRead(now + timedelta(hours=10), None, None)
        ledger.save_read_schedule(policy_fingerprint(settings), now, {cid: later})
    emulator.clear_requests()

    run = reaper.sweep()  # the same configuration, so the same policy fingerprint

    assert run.code == 0, run.stderr[-2000:]
    after = conversation_view(cid)
    assert all(state_of(p) in ("disconnected", "terminated") for p in participants_by_purpose(after, "agent"))
    texts = [r for r in writes(emulator.requests(), cid) if r["path"].endswith("/messages")]
    assert texts == [], "a second closing text went out"
    with Ledger.open(reaper.ledger_url) as ledger:
        assert ledger.pending_steps() == []
