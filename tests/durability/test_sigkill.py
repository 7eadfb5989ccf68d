"""SCENARIOS.md row 24: the reaper is SIGKILLed mid-sweep, again and again, and restarted.

Every conversation must be closed exactly once — counted in the emulator's request log, write by
write — and every intent in the ledger must end up with an outcome, the one the platform shows.

"Exactly once" counts every write sent, the ones the platform refused too: the agent's disconnect sent
a second time answers 400 (the participant already left), and a count of successes alone never sees
it. The disconnect counted is the agent's, by participant: the customer's leg disconnected instead is
not the close. And the ledger must say what the platform shows: a disconnect that reached the platform
settled by recovery as "not sent" is a wrong "disconnect:agent" check, whether or not a step is then
sent again.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from session_reaper.core.vocabulary import EFFECTIVE_STEP_OUTCOMES
from session_reaper.ledger import Ledger
from tests.durability.conftest import writes_per_conversation
from tests.helpers.scenarios import ended, idle_chat
from tests.scenarios.conftest import Reaper

# Enough work that the kills never run out of it: their runs journal ~230 of its ~730 writes (6 a
# conversation), the rest is left to the final passes. Each kill lands by its run's own progress (or
# time), never by how much is left, so more conversations would add only final-pass time.
CONVERSATIONS = 120
KILLS = 22


def _journal_writes(ledger_file: Path) -> int:
    """Intents plus outcomes journalled so far (read-only; WAL lets us read while the reaper writes)."""
    if not ledger_file.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{ledger_file}?mode=ro", uri=True, timeout=1) as db:
            row = db.execute("SELECT count(*) + count(outcome) FROM steps").fetchone()
    except sqlite3.OperationalError:  # not migrated yet
        return 0
    return int(row[0])


def _open_intents(ledger_file: Path) -> int:
    with sqlite3.connect(f"file:{ledger_file}?mode=ro", uri=True, timeout=1) as db:
        return int(db.execute("SELECT count(*) FROM steps WHERE outcome IS NULL").fetchone()[0])


def _effective_steps(ledger_file: Path) -> dict[str, Counter[str]]:
    """Per conversation, how many steps of each kind the ledger records as carried out."""
    found: dict[str, Counter[str]] = {}
    with sqlite3.connect(f"file:{ledger_file}?mode=ro", uri=True, timeout=1) as db:
        for cid, kind, outcome in db.execute("SELECT conversation_id, kind, outcome FROM steps"):
            if outcome in EFFECTIVE_STEP_OUTCOMES:
                found.setdefault(cid, Counter())[kind] += 1
    return found


def _start(reaper: Reaper, config: Path) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "session_reaper.commands.cli",
        "sweep",
        "--apply",
        "--json",
        "--config",
        str(config),
    ]
    return subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=reaper.env(),
        cwd=reaper.workdir,
    )


@pytest.mark.slow
def test_row24_sigkill_at_random_points_never_does_anything_twice(emulator, tmp_path, conversation_view):
    ids = emulator.create_conversations([idle_chat(40 + i % 30) for i in range(CONVERSATIONS)])
    # Slow writes stretch the sweep so that kills land in every phase: before, during and after requests.
    emulator.fault(method="PATCH", path=".*", latencyMs=40)
    emulator.fault(method="POST", path=".*/messages$", latencyMs=40)
    reaper = Reaper(emulator.base_url, tmp_path)
    # A short request timeout: a step in flight as its process was killed is not called "not sent"
    # before its request can no longer land (the timeout, then at least 10 s; wall time, fix 9).
    config = reaper.config(
        {
            "sweep": {
                "concurrency": 2,
                "max_closes": 1000,
                "requests_per_minute": 100000,
                "request_timeout": "2s",
            }
        }
    )
    rng = random.Random(24)

    ledger_file = Path(reaper.ledger_url.removeprefix("sqlite:///"))
    kills = 0
    deadline = time.monotonic() + 300
    while kills < KILLS and time.monotonic() < deadline:
        before = _journal_writes(ledger_file)
        process = _start(reaper, config)
        if kills % 5 == 4:
            # Some kills land by time: during start-up, discovery or the first reads.
            stop_at = time.monotonic() + rng.uniform(0.2, 1.0)
            target = None
        else:
            # Most land by progress: after the k-th journal write of this run, wherever that falls.
            stop_at, target = time.monotonic() + 30, before + rng.randint(1, 24)
        while process.poll() is None and time.monotonic() < stop_at:
            if target is not None and _journal_writes(ledger_file) >= target:
                break
            time.sleep(0.005)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
        else:
            assert process.returncode == 0, process.stderr.read() if process.stderr else ""
            break
    assert kills >= 20, f"only {kills} kills landed mid-sweep"

    # Restarted without interruption until nothing is left to do: at least three passes, and more while
    # a step the last kill cut off in flight is still left open (until its request can no longer land).
    passes = 0
    settle_by = time.monotonic() + 120
    while passes < 3 or (_open_intents(ledger_file) and time.monotonic() < settle_by):
        held = _open_intents(ledger_file)
        final = _start(reaper, config)
        stdout, stderr = final.communicate(timeout=240)
        # A pass that meets a step still marked in flight leaves that conversation to a later one and
        # says so with exit 1; with nothing open before it, a pass must end clean.
        assert final.returncode == 0 or (final.returncode == 1 and held), stdout[-2000:] + stderr
        passes += 1
    assert final.returncode == 0, stdout[-2000:] + stderr

    views = {cid: conversation_view(cid) for cid in ids}
    assert all(ended(view) for view in views.values())
    purposes = {p["id"]: p["purpose"] for view in views.values() for p in view["participants"]}
    # Every write sent, refused or not, and each participant's disconnect by whose it was: one
    # annotation, one closing text, one disconnect of the agent, and nothing else (no second try, no
    # other leg disconnected, no escalation to the whole conversation or a teardown).
    counts = writes_per_conversation(emulator.requests(), ids, refused_too=True, purposes=purposes)
    closed_once = Counter({"annotate": 1, "text": 1, "disconnect:agent": 1})
    for cid in ids:
        assert counts[cid] == closed_once, (cid, counts[cid])
    with Ledger.open(reaper.ledger_url) as ledger:
        assert ledger.pending_steps() == []
    # The journal tells what the platform shows: each of those steps carried out exactly once.
    journalled = _effective_steps(ledger_file)
    done_once = Counter({"annotate": 1, "closing-text": 1, "disconnect:agent": 1})
    for cid in ids:
        assert journalled.get(cid) == done_once, (cid, journalled.get(cid))
