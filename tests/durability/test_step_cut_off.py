"""Found by the soak (docs/reliability.md, run C: one double act): a step the platform carried out but
whose outcome never reached the journal must not be sent again.

Each case cuts one closing text off from its journalled outcome at the instant the platform has
carried it out, in one of the ways a week of faults does:
- `sigkill`: the reaper is SIGKILLed before the platform's answer reaches it;
- `ledger-down`: the ledger's PostgreSQL stops before the reaper can write the outcome (and the
  message id);
- `answer-too-late`: the platform answers only after the reaper's `request_timeout` (it carries the
  text out all the same), so the reaper cannot know whether the text went out.
Then `sweep --apply` runs again (its recovery settles what the cut left open) until the conversation
is closed; or `sweep --apply --only ID`, which runs no recovery of its own: the act settles the
conversation's open intent first (`engine/recovery.recover_one`), as an event's re-check does.
What a user would see must hold: exactly one closing text reached the conversation, it was closed,
and no intent is left open.

The platform's clock stands still here between the test's moves, as in the soak (`stepped`): the
reaper's estimate of the platform's time (the last `Date` header plus local time since) then runs
ahead of the time the platform stamps on the text, as it does whenever the platform's clock is slower
than the reaper's. The journal must not depend on that estimate being behind.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from benchmarks.common import stepped
from benchmarks.soak import DedicatedPostgres
from genesys_emulator.server import EmulatorServer
from genesys_emulator.spec import FaultSpec
from session_reaper.ledger import Ledger
from tests.helpers.scenarios import idle_chat
from tests.scenarios.conftest import Reaper

HAS_POSTGRES = bool(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")) and shutil.which("runuser") is not None
TEXTS = "/messages"  # the path of a text sent to a conversation ends so


@pytest.fixture
def platform() -> Iterator[EmulatorServer]:
    server = EmulatorServer(rate_limit=100_000)
    world = stepped(server.world)
    world.clock.set(datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC))  # a whole second: no slack at all
    with server:
        yield server


def _texts_served(server: EmulatorServer, conversation_id: str) -> int:
    with server.world.lock:
        legs = server.world.conversations[conversation_id].legs
        return sum(1 for leg in legs if leg.purpose == "agent" for m in leg.messages if m.id in _sent)


_sent: set[str] = set()  # ids of the texts the reaper had the platform send


def _on_text(server: EmulatorServer, after: Callable[[], None] | None) -> None:
    """Note every text the platform carries out; run `after` once, right after the first one."""
    world = server.world
    send = world.send_message
    pending = [after] if after is not None else []

    def send_message(conversation_id: str, communication_id: str, text: str) -> dict[str, Any]:
        sent = send(conversation_id, communication_id, text)
        _sent.add(str(sent["id"]))
        while pending:
            pending.pop()()
        return sent

    world.send_message = send_message  # type: ignore[method-assign]


def _start(reaper: Reaper, config: Path, *only: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "session_reaper.commands.cli", "sweep", "--apply", "--json"]
    named = [arg for cid in only for arg in ("--only", cid)]
    return subprocess.Popen(
        [*command, *named, "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=reaper.env(),
        cwd=reaper.workdir,
    )


def _sweep(reaper: Reaper, config: Path, *only: str) -> tuple[int, str]:
    process = _start(reaper, config, *only)
    _, stderr = process.communicate(timeout=120)
    return process.returncode, stderr


@pytest.mark.parametrize(
    ("cut", "then"),
    [
        ("sigkill", "sweep"),
        ("ledger-down", "sweep"),
        ("answer-too-late", "sweep"),
        ("sigkill", "only"),
        ("answer-too-late", "only"),
    ],
)
def test_a_closing_text_cut_off_from_its_outcome_is_sent_once(
    platform: EmulatorServer, tmp_path: Path, cut: str, then: str
) -> None:
    if cut == "ledger-down" and not HAS_POSTGRES:
        pytest.skip("needs a PostgreSQL of its own to stop (initdb/pg_ctl, run as the postgres user)")
    world = platform.world
    target = world.create_conversation(idle_chat(50)).id
    reaper = Reaper(platform.base_url, tmp_path)
    pg: DedicatedPostgres | None = None
    home: Path | None = None
    if cut == "ledger-down":
        home = Path(tempfile.mkdtemp(prefix="pg-"))  # the postgres user cannot reach pytest's tmp_path
        pg = DedicatedPostgres(home).start()
        reaper.ledger_url = pg.url
    sweep = {"requests_per_minute": 100000, "request_timeout": "1s"}
    config = reaper.config({"sweep": sweep})
    try:
        first: subprocess.Popen[str] | None = None
        if cut == "sigkill":
            _on_text(platform, lambda: os.kill(first.pid, signal.SIGKILL) if first else None)
        elif cut == "ledger-down":
            assert pg is not None
            _on_text(platform, pg.stop)
        else:
            _on_text(platform, None)
            world.faults.add_fault(_too_late(target))
        first = _start(reaper, config)
        first.communicate(timeout=120)
        _wait_for(lambda: not world.in_flight)  # a late answer has been served: its text is there
        assert _texts_served(platform, target) == 1, "the cut did not land on the closing text"
        if pg is not None:
            pg.start_again()

        for _ in range(3):  # the next passes: recovery, then acting afresh; the idle clock moves on
            with world.lock:
                world.clock.advance(3600)
                world.tick()
            code, stderr = _sweep(reaper, config, *([target] if then == "only" else []))
            assert code == 0, stderr[-2000:]
        assert _texts_served(platform, target) == 1, "the closing text was sent again"
        with world.lock:
            states = {leg.purpose: leg.state for leg in world.conversations[target].legs}
        assert states["agent"] in ("disconnected", "terminated"), states
        with Ledger.open(reaper.ledger_url) as ledger:
            assert ledger.pending_steps() == []
    finally:
        _sent.clear()
        if pg is not None:
            pg.stop()
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)


def _too_late(conversation_id: str) -> FaultSpec:
    """The text's answer comes after the reaper's request_timeout (1 s); the text is sent all the same."""
    return FaultSpec(method="POST", path=f"/{conversation_id}/.*{TEXTS}$", latencyMs=2500, times=1)


def _wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
