"""Issue 15.3: the limit is per OAuth client, across processes; pacing keeps to the platform's count.

Real `serve --apply` processes on one emulator OAuth client limited to 300 requests a minute (the
emulator's real-time sliding window), with more work than that limit allows. Judged on the
emulator's request log for that client: no 429 after the first minute, and no 60 s window holding
more requests than the limit (429s included: a refused request is still one sent).

The limit is counted on the wall clock, so each situation takes 80 s of real time: a first minute,
then the window's turn, when the first minute's requests leave it and every process sees room at once
(the work comes in bursts: the limit's worth in the first seconds of each minute, then waits). With the
platform's count ignored (`PacingLimiter(platform_count=False)`), both overrun the limit in the first
minute and again at the turn: 429s after the first minute, and a window over the limit.
The two run side by side, each on an organization and an OAuth client of its own (the emulator counts
per client), in one module fixture; `xdist_group` keeps both tests on the worker that ran it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from genesys_emulator.client import Emulator
from genesys_emulator.server import EmulatorServer
from tests.helpers.scenarios import idle_chat
from tests.ledger.conftest import fresh_schema
from tests.scenarios.conftest import Reaper
from tests.service.serve_harness import free_port

LIMIT = 300
RUN_SECONDS = 80.0  # a first minute, and the burst that starts the second (its first ~10 s)
LIFE_SENDS = 1  # a life is killed once it has sent a request (it then knows the count), LIFE_AFTER s on
LIFE_AFTER = 1.5  # ... and LIFE_AFTER s on
LIFE_START_MAX = 3.0  # ... or this long after its token without: waiting on the count the others saved
LIFE_UP_MAX = 20.0  # a life's token is waited for this long at most


def _client(emulator: Any, reaper: Reaper, organization: str, limit: int = LIMIT) -> str:
    client_id = f"paced-{uuid.uuid4().hex[:8]}"
    emulator.add_client(client_id, "paced-secret-4242", rateLimitPerMinute=limit, organization=organization)
    reaper.client_id, reaper.client_secret = client_id, "paced-secret-4242"
    # more work than the limit allows in the run, in that organization alone
    emulator.create_conversations(
        [{**idle_chat(40 + i % 30), "organization": organization} for i in range(600)]
    )
    return client_id


def _serve(reaper: Reaper, config: Path, log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "session_reaper.commands.cli",
        "serve",
        "--apply",
        "--port",
        str(free_port()),
    ]
    with log.open("ab") as stderr:
        return subprocess.Popen(
            [*command, "--config", str(config)],
            env=reaper.env(),
            cwd=reaper.workdir,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def _judge(requests: list[dict[str, Any]], client_id: str) -> tuple[int, int, int]:
    """(most requests in any 60 s window, 429s after the first minute, requests after the first
    minute) for the client; the figures (and every 429) are printed for docs.

    The token endpoint is left out: the platform does not count it against the limit.
    """
    stamps = sorted(
        (datetime.fromisoformat(r["at"].replace("Z", "+00:00")).timestamp(), r["status"])
        for r in requests
        if r["clientId"] == client_id and r["path"] != "/oauth/token"
    )
    assert stamps, "no request reached the platform"
    first = stamps[0][0]
    most, start = 0, 0
    for end, (at, _) in enumerate(stamps):
        while stamps[start][0] <= at - 60.0:
            start += 1
        most = max(most, end - start + 1)
    late_429 = sum(1 for at, status in stamps if status == 429 and at > first + 60.0)
    after_turn = sum(1 for at, _ in stamps if at > first + 60.0)
    print(f"\n{len(stamps)} requests, most in any 60 s: {most}, 429s: {sum(s == 429 for _, s in stamps)}")
    return most, late_429, after_turn


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)


def _config(reaper: Reaper, ledger: str) -> Path:
    return reaper.config(
        {"sweep": {"ledger": ledger, "interval": "1s", "concurrency": 8, "max_closes": 5000}}
    )


def _three_replicas(emulator: Any, workdir: Path, ledger: str) -> dict[str, Any]:
    reaper = Reaper(emulator.base_url, workdir)
    client_id = _client(emulator, reaper, "org-replicas")
    config = _config(reaper, ledger)  # each replica believes it may use the whole limit
    replicas = [_serve(reaper, config, workdir / f"replica{i}.log") for i in range(3)]
    exited: list[str] = []
    try:
        time.sleep(RUN_SECONDS)  # real time: the limit is counted on the wall clock
        exited = [
            (workdir / f"replica{i}.log").read_text()[-2000:]
            for i, process in enumerate(replicas)
            if process.poll() is not None
        ]
    finally:
        _stop(replicas)
    return {"client": client_id, "exited": exited}


def _sent(emulator: Any, client_id: str) -> int:
    return sum(1 for r in emulator.requests() if r["clientId"] == client_id and r["path"] != "/oauth/token")


def _tokens(emulator: Any, client_id: str) -> int:
    return sum(1 for r in emulator.requests() if r["clientId"] == client_id and r["path"] == "/oauth/token")


def _kill_restart_loop(emulator: Any, workdir: Path) -> dict[str, Any]:
    """SIGKILL and restart until the run's end; each life is killed once it has begun sending, or once
    it has waited LIFE_START_MAX after its token (held back by the count the earlier lives saved): a
    restart into a window the earlier lives filled. Not on a timer from its start: on a slow machine a
    timer kills lives that never got as far as pacing."""
    reaper = Reaper(emulator.base_url, workdir)
    client_id = _client(emulator, reaper, "org-restarts")
    config = _config(reaper, reaper.ledger_url)
    log = workdir / "serve.log"
    deadline = time.monotonic() + RUN_SECONDS
    restarts = waiting_lives = 0
    exited: list[str] = []
    process = _serve(reaper, config, log)
    try:
        while time.monotonic() < deadline:
            before, tokens, born = _sent(emulator, client_id), _tokens(emulator, client_id), time.monotonic()
            # up (its token asked for: it paces from here on), however slowly the machine starts it
            while _tokens(emulator, client_id) == tokens and time.monotonic() - born < LIFE_UP_MAX:
                time.sleep(0.1)
            up = time.monotonic()
            while _sent(emulator, client_id) < before + LIFE_SENDS and time.monotonic() - up < LIFE_START_MAX:
                time.sleep(0.1)
            waited = _sent(emulator, client_id) == before  # held back by the saved count all its life
            waiting_lives += waited
            if not waited:
                time.sleep(min(LIFE_AFTER, max(0.0, deadline - time.monotonic())))
            if process.poll() is not None:
                exited.append(log.read_text()[-2000:])
                break
            if time.monotonic() >= deadline:
                break
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            process = _serve(reaper, config, log)  # an empty pacer, into a window another life filled
            restarts += 1
    finally:
        _stop([process])
    return {"client": client_id, "exited": exited, "restarts": restarts, "waiting": waiting_lives}


def _assert_pressed(most: int, after_turn: int, limit: int = LIMIT) -> None:
    """The run pressed on the limit, so that `most <= LIMIT` judged the pacing and not idleness: a
    60 s window held at least half of it, and requests went on into the window's turn. Half: a CI
    machine's twenty lives once sent 130 in all; the overrun without the platform's count shows in
    the late 429s as much as in the busiest window (13 and 8 of them; windows of 313 and 321).

    Not a total: how many requests fit in the turn's seconds depends on how fast the processes start
    on a loaded machine (a CI run's restarts sent 34 there, a quiet machine's ~150), not on pacing.
    """
    assert most >= 0.5 * limit, f"the busiest 60 s held {most} requests: the limit was never pressed on"
    assert after_turn > 0, "nothing was sent after the first minute: the window's turn was not reached"


@pytest.fixture(scope="module")
def pacing_ledger(postgres_base: str) -> Iterator[str]:
    """The replicas' shared ledger: a PostgreSQL schema of this module's own."""
    with fresh_schema(postgres_base, "pacing") as url:
        yield url


@pytest.fixture(scope="module")
def paced_runs(tmp_path_factory: pytest.TempPathFactory, pacing_ledger: str) -> dict[str, Any]:
    """Both situations at once on one emulator of their own; its request log at the end."""
    with EmulatorServer(rate_limit=100_000) as server, Emulator(server.base_url) as emulator:
        with ThreadPoolExecutor(max_workers=2) as pool:
            replicas = pool.submit(
                _three_replicas, emulator, tmp_path_factory.mktemp("replicas"), pacing_ledger
            )
            restarts = pool.submit(_kill_restart_loop, emulator, tmp_path_factory.mktemp("restarts"))
            runs = {"replicas": replicas.result(), "restarts": restarts.result()}
        runs["requests"] = emulator.requests()
    return runs


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.xdist_group("platform-pacing")
def test_three_replicas_on_one_client_stay_under_its_limit_together(paced_runs: dict[str, Any]) -> None:
    run = paced_runs["replicas"]
    assert not run["exited"], run["exited"]
    most, late_429, after_turn = _judge(paced_runs["requests"], run["client"])
    print(f"3 replicas: {after_turn} requests after the first minute, 429s then: {late_429}")
    assert late_429 == 0
    assert most <= LIMIT
    _assert_pressed(most, after_turn)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.xdist_group("platform-pacing")
def test_a_serve_killed_and_restarted_again_and_again_stays_under_the_limit(
    paced_runs: dict[str, Any],
) -> None:
    run = paced_runs["restarts"]
    assert not run["exited"], run["exited"]
    most, late_429, after_turn = _judge(paced_runs["requests"], run["client"])
    print(
        f"{run['restarts']} restarts ({run['waiting']} lives held back by the saved count until killed):"
        f" {after_turn} requests after the first minute, 429s then: {late_429}"
    )
    # Each life would send its first request before it knows the platform's count, spending one request
    # of the 5 % headroom (15 at 300): 22 lives in 80 s once made a window of 301. A life seeds its pacer
    # with the count the earlier ones kept in the ledger (commands/platform_counts.py) instead, and waits.
    assert run["restarts"] >= 8
    assert late_429 == 0
    assert most <= LIMIT
    _assert_pressed(most, after_turn)
