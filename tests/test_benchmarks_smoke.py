"""The comparison benchmark still runs end to end (a tiny world, a quarter of a virtual hour).

No figure is asserted beyond what the design promises whatever the machine: the reaper's closes are
never wrong and it never draws a 429 once its backlog is drained."""

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
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "API requests per 1,000 conversation-minutes" in done.stdout
    reaper = json.loads((tmp_path / "reaper.json").read_text())
    naive = json.loads((tmp_path / "naive.json").read_text())
    assert reaper["error"] is None and naive["error"] is None
    assert reaper["closed"] > 0 and naive["closed"] > 0
    assert reaper["wrongCloses"] == 0
    assert reaper["rateLimitedSteadyState"] == 0
