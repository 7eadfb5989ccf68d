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
