"""Found by the soak (benchmarks/soak.py): PostgreSQL restarted under the ledger in the middle of a
pass. The pass may fail, but it must end: the soak's `serve --apply` made no request and wrote no log
line for the remaining four virtual days after its third PostgreSQL restart, and ignored SIGTERM.

Here a single `sweep --apply` over 200 idle chats (writes slowed down so that the pass lasts)
has its ledger's PostgreSQL restarted after its first decisions; the process must exit by itself.
Variants: the restart lands after 5, 40 and 120 journalled decisions. And the pass goes on over the
restart (run Y: it used to end there, "sweep crashed"): every chat is closed in it but those whose
journal call lost the connection, which are failed, naming the ledger, for the next pass.
"""

from __future__ import annotations

import glob
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from benchmarks.soak import DedicatedPostgres
from tests.helpers.scenarios import idle_chat
from tests.scenarios.conftest import Reaper

pytestmark = pytest.mark.skipif(
    not glob.glob("/usr/lib/postgresql/*/bin/pg_ctl") or shutil.which("runuser") is None,
    reason="needs a PostgreSQL of its own to restart (initdb/pg_ctl, run as the postgres user)",
)


def _decisions(pg: DedicatedPostgres) -> int:
    try:
        return int(pg.query("SELECT count(*) FROM decisions")[0][0])
    except Exception:  # not migrated yet
        return 0


@pytest.mark.slow
@pytest.mark.parametrize("after", [5, 40, 120])
def test_a_pass_whose_ledger_restarts_under_it_ends(emulator: Any, tmp_path: Path, after: int) -> None:
    emulator.create_conversations([idle_chat(40 + i % 30) for i in range(200)])
    emulator.fault(method="PATCH", path=".*", latencyMs=30)
    out = (tmp_path / "lines.jsonl").open("w")  # the lines: a file, not a pipe (200 lines would fill one)
    home = Path(tempfile.mkdtemp(prefix="pg-"))  # the postgres user cannot reach pytest's tmp_path
    pg = DedicatedPostgres(home).start()
    try:
        reaper = Reaper(emulator.base_url, tmp_path)
        reaper.ledger_url = pg.url
        config = reaper.config({"sweep": {"requests_per_minute": 100000, "max_closes": 1000}})
        command = [sys.executable, "-m", "session_reaper.commands.cli", "sweep", "--apply", "--json"]
        process = subprocess.Popen(
            [*command, "--config", str(config)],
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            env=reaper.env(),
            cwd=tmp_path,
        )
        deadline = time.monotonic() + 120
        while _decisions(pg) < after and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.poll() is None, "the pass ended before the restart could land"
        pg.restart()
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail("the pass did not end within 90 s of its ledger's restart")
        assert process.returncode is not None
        out.flush()
        lines = [json.loads(text) for text in (tmp_path / "lines.jsonl").read_text().splitlines()]
        decided = {line["conversationId"]: line for line in lines if "conversationId" in line}
        assert len(decided) == 200  # the pass went on over the restart, to its end
        for line in decided.values():
            assert line["outcome"] == "done" or (
                line["outcome"] == "failed" and "ledger postgresql://" in line["error"]
            ), line
    finally:
        out.close()
        pg.stop()
        shutil.rmtree(home, ignore_errors=True)
