"""A process killed between a step's intent and its outcome leaves an open intent — never nothing.

The child process journals an intent and is then SIGKILLed, as the request would be in flight: the
next process to open the ledger must find that intent pending (for recovery to resolve by reading
the conversation), with everything journalled before it intact.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from session_reaper.ledger import Ledger

CHILD = """
import os, signal, sys
from datetime import UTC, datetime
from session_reaper.ledger import Ledger
ledger = Ledger.open(sys.argv[1], owner="doomed-replica")
sweep = ledger.start_sweep(True)
decision = ledger.record_decision(sweep, "conv-1", decision="close", rule="idle")
done = ledger.step_intent(decision, "conv-1", "annotate", "cust-1")
ledger.step_outcome(done, "done", http_status=202)
print(ledger.step_intent(decision, "conv-1", "disconnect:agent", "agent-1"), flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # the request is in flight: no outcome, no close(), no atexit
"""


def test_a_killed_process_leaves_its_intent_pending(ledger_url: str) -> None:
    child = subprocess.run(
        [sys.executable, "-c", CHILD, ledger_url], capture_output=True, text=True, timeout=60
    )
    assert child.returncode == -9, child.stderr
    in_flight = int(child.stdout)

    with Ledger.open(ledger_url) as ledger:
        [pending] = ledger.pending_steps(owner="doomed-replica")
        assert (pending.step_id, pending.kind, pending.participant_id) == (
            in_flight,
            "disconnect:agent",
            "agent-1",
        )
        assert ledger.completed_step("conv-1", "annotate", "cust-1")
        assert not ledger.completed_step("conv-1", "disconnect:agent", "agent-1")


def test_replicas_opening_a_new_sqlite_ledger_at_once_all_succeed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    revisions: list[str | None] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_ledger() -> None:
        try:
            start.wait(timeout=30)
            with Ledger.open(url) as ledger:
                revisions.append(ledger.schema_revision())
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=open_ledger) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert revisions == ["0009"] * 4
