"""SCENARIOS.md row 25: several reapers sweep one organization at once, sharing a PostgreSQL ledger."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.durability.conftest import writes_per_conversation
from tests.helpers.scenarios import ended, idle_chat
from tests.scenarios.conftest import Reaper

CONVERSATIONS = 200


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("replicas", [2, 4])
def test_row25_replicas_act_on_each_conversation_exactly_once(
    emulator, tmp_path, conversation_view, postgres_url, replicas
):
    ids = emulator.create_conversations([idle_chat(40 + i % 30) for i in range(CONVERSATIONS)])
    reaper = Reaper(emulator.base_url, tmp_path)
    config = reaper.config(
        {
            "sweep": {
                "ledger": postgres_url,
                "concurrency": 4,
                "max_closes": 1000,
                "requests_per_minute": 100000,
            }
        }
    )
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

    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=reaper.env())
        for _ in range(replicas)
    ]
    results = [p.communicate(timeout=300) for p in processes]

    for process, (_, stderr) in zip(processes, results, strict=True):
        assert process.returncode == 0, stderr
    acted = [out.count('"outcome":"done"') for out, _ in results]
    assert sum(acted) == CONVERSATIONS, acted
    assert sum(1 for n in acted if n > 0) >= 2, f"one replica did everything: {acted}"
    assert all(ended(conversation_view(cid)) for cid in ids)
    counts = writes_per_conversation(emulator.requests(), ids, refused_too=True)  # a second send is refused
    for cid in ids:
        assert counts[cid]["disconnect:participant"] == 1, (cid, counts[cid])
        assert counts[cid]["annotate"] == 1, (cid, counts[cid])
        assert counts[cid]["text"] == 1, (cid, counts[cid])
