"""The soak still runs end to end: one virtual hour of `serve --apply` on a PostgreSQL of its own, with a
SIGKILL twice, a 5xx storm, a 429 burst and the token revoked; in the events mode also the socket
dropped twice, `socket_closing` sent, 50 events lost without a word and a socket gone silent. (The events
smoke was out of `make test` while one run in four tore a conversation down twice: fix 9 in
docs/reliability.md; and while a refused set-up kept serve polling: fix 13.)

Every invariant the soak checks must hold (it exits 1 otherwise); beyond that only what the run must
show whatever the machine: each fault was injected, the reaper closed something, was killed and came back.
"""

from __future__ import annotations

import glob
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    not glob.glob("/usr/lib/postgresql/*/bin/pg_ctl") or shutil.which("runuser") is None,
    reason="the soak starts a PostgreSQL of its own (initdb/pg_ctl, run as the postgres user)",
)


def _smoke(tmp_path: Path, *extra: str) -> dict[str, Any]:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.soak", "--smoke", "--out", str(out), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    # the soak ends its stderr with the broken invariants and their figures
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.read_text())["soakSmoke"]
    return result


def test_soak_smoke(tmp_path: Path) -> None:
    result = _smoke(tmp_path)
    assert result["mode"] == "poll" and result["notifications"] is None
    assert all(result["invariantsHeld"].values()), result["invariantsHeld"]
    assert result["invariants"]["closesInUse"] == 0 and result["invariants"]["doubleActs"] == 0
    assert result["invariants"]["openIntentsAtEnd"] == 0
    assert {f["fault"]: f["injected"] > 0 for f in result["faults"]} == {
        f["fault"]: True for f in result["faults"]
    }
    assert result["serveKills"] == 2 and result["serveStarts"] == 3
    assert result["postgresRestarts"] == 0  # not in the smoke until bug 1 is fixed (docs/reliability.md)
    assert result["closes"] > 0
    assert result["rateLimited"] > 0  # the burst of 429s reached the reaper


def test_soak_smoke_in_the_events_mode(tmp_path: Path) -> None:
    result = _smoke(tmp_path, "--mode", "events")
    assert result["mode"] == "events"
    assert all(result["invariantsHeld"].values()), result["invariantsHeld"]
    injected = {f["fault"]: f["injected"] for f in result["faults"]}
    assert injected["socket dropped"] == 2 and injected["socket_closing sent"] == 1
    assert injected["events lost (50, no word)"] == 1 and injected["socket silent (no heartbeat)"] == 1
    notifications = result["notifications"]
    # the faults met a live socket and the reaper came back each time, still listening at the end
    assert notifications["socketsReachedByFaults"]["disconnect"] >= 1
    assert notifications["reconnects"] >= 1 and notifications["connectedAtEnd"] >= 1
    assert notifications["eventsDropped"] >= 50  # what the drop fault took, at least
    assert result["closes"] > 0 and result["invariants"]["doubleActs"] == 0
