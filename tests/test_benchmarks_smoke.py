"""The comparison and events-throughput benchmarks still run end to end (tiny worlds).

No figure is asserted beyond what the design promises whatever the machine: the reaper's closes are
never wrong, in either mode, and it never draws a 429 once its backlog is drained; the events mode
takes in every event the emulator sent it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_compare_smoke(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.compare", "--smoke", "--out-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,  # four worlds at once: on 2 shared cores, minutes when the machine is busy
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "API requests per 1,000 conversation-minutes" in done.stdout
    reaper = json.loads((tmp_path / "reaper.json").read_text())
    naive = json.loads((tmp_path / "naive.json").read_text())
    assert reaper["error"] is None and naive["error"] is None
    assert reaper["closed"] > 0 and naive["closed"] > 0
    assert reaper["wrongCloses"] == 0
    assert reaper["rateLimitedSteadyState"] == 0
    events = json.loads((tmp_path / "events.json").read_text())
    assert events["error"] is None and events["closed"] > 0
    assert events["wrongCloses"] == 0 and events["rateLimited"] == 0
    assert events["framesTakenIn"] == events["eventsSentByEmulator"] > 0
    assert "reaction p99" in done.stdout


def test_events_throughput_smoke(tmp_path: Path) -> None:
    out = tmp_path / "throughput.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.events_throughput", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["eventsHandled"] == result["frames"] == 2 * result["conversations"]
    assert result["pictured"] == result["conversations"]


def test_journal_calls_smoke(tmp_path: Path) -> None:
    """A close costs the journal round trips the design counts (benchmarks/journal_calls.py), no more:
    per step one for the intent (the lease renewed in it), one per attempt, one for the outcome; per act
    the lease, the conversation's steps (open and in place, one read), the decision and its outcome (the
    lease released with it). Was 27 per close: the lease renewed and claimed apart, the steps in place
    asked per step, the mark cleared after every answer, the text's id and the release apart."""
    out = tmp_path / "calls.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.journal_calls",
            "--chats",
            "12",
            "--postgres",
            "",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    [run] = json.loads(out.read_text())["runs"]
    assert run["closed"] == 12
    per_close = {call: count / 12 for call, count in run["byCall"].items()}
    steps = 3  # the annotation, the closing text, the agent's disconnect
    for call in ("held_step_intent", "step_attempt", "step_outcome"):
        assert per_close[call] == steps, (call, per_close)
    for call in ("claim", "conversation_steps", "record_decision", "set_decision_outcome"):
        assert per_close[call] == 1, (call, per_close)
    for call in ("renew", "step_sending", "completed_steps", "record_reaper_message", "release"):
        assert call not in per_close, (call, per_close)
    # what is left is the sweep's own (its row, recovery's query, the schedule), once per sweep
    assert run["journalCalls"] - 12 * 13 <= 15, run["byCall"]
