"""The platform's count of serve's OAuth client outlives the process, through the ledger.

A serve started into a window its predecessors filled must not send its first request blind: it reads
the last count from the ledger and waits for that count's end. A running serve keeps the counts that
matter there, a few writes whatever the request rate. Judged on the emulator's request log and on the
ledger's rows; the emulator counts the limit in real time, so the waits here are a few real seconds.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from serve_harness import Serve, wait_until
from sqlalchemy.exc import OperationalError

from session_reaper.commands.platform_counts import (
    CountKeeper,
    client_key,
    load_known_count,
    seed_margin,
)
from session_reaper.genesys.pacing import PlatformCount
from session_reaper.genesys.regions import resolve
from session_reaper.ledger import Ledger
from session_reaper.ledger.platform_counts import SavedCount
from tests.helpers.scenarios import idle_chat

HOLD = 5.0  # seconds the saved full window still holds when serve starts


def _at(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["at"].replace("Z", "+00:00"))


def _client(emulator: Any, serve: Serve, limit: int) -> str:
    client_id = f"counts-{uuid.uuid4().hex[:8]}"
    emulator.add_client(client_id, "counts-secret-4242", rateLimitPerMinute=limit)
    serve.client_id, serve.client_secret = client_id, "counts-secret-4242"
    return client_id


def _sent(emulator: Any, client_id: str) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r["clientId"] == client_id]


def test_a_serve_started_into_a_full_window_waits_for_its_end(emulator: Any, serve: Serve) -> None:
    client_id = _client(emulator, serve, 300)
    emulator.create_conversations([idle_chat(45) for _ in range(3)])
    # the emulator's log is on its clock (real time from wherever it was set): its offset to ours
    offset = emulator.now() - datetime.now(UTC)
    now = datetime.now(UTC)
    with Ledger.open(serve.ledger_url) as ledger:  # what the killed predecessor saved
        key = client_key(resolve(None, emulator.base_url).api_base, client_id)
        ledger.platform_counts.save(key, SavedCount(300, 300, now + timedelta(seconds=HOLD), now))
    holds_until = now + timedelta(seconds=HOLD) + offset  # on the emulator's clock

    serve.start()
    platform = wait_until(
        lambda: [r for r in _sent(emulator, client_id) if r["path"] != "/oauth/token"],
        "serve's first platform request",
        timeout=HOLD + 20,
    )
    token = next(r for r in _sent(emulator, client_id) if r["path"] == "/oauth/token")
    assert _at(token) < holds_until - timedelta(seconds=1), (
        "serve got its token only after the saved count's end: this machine was too slow to tell"
    )
    first = min(_at(r) for r in platform)
    assert first >= holds_until - timedelta(milliseconds=50), (first, holds_until)
    assert first <= holds_until + timedelta(seconds=5)  # then it goes on: one request learns the count
    assert "pacing on the platform count saved before this start" in serve.stderr()


def test_each_organizations_client_is_paced_on_its_own_saved_count(emulator: Any, serve: Serve) -> None:
    """With [orgs], each org's runtime reads the count of its own client: acme's full window holds
    acme back; globex, on another client with nothing saved, starts at once."""
    clients = {org: f"{org}-{uuid.uuid4().hex[:8]}" for org in ("acme", "globex")}
    for org, client_id in clients.items():
        emulator.add_client(client_id, f"{org}-secret-4242", rateLimitPerMinute=300, organization=org)
    offset = emulator.now() - datetime.now(UTC)
    now = datetime.now(UTC)
    api_base = resolve(None, emulator.base_url).api_base
    with Ledger.open(serve.ledger_url) as ledger:
        saved = SavedCount(300, 300, now + timedelta(seconds=HOLD), now)
        ledger.platform_counts.save(client_key(api_base, clients["acme"]), saved)
    holds_until = now + timedelta(seconds=HOLD) + offset
    tables = "".join(
        f'[orgs.{org}]\nclient_id_env = "{org.upper()}_ID"\nclient_secret_env = "{org.upper()}_SECRET"\n'
        f'api_url = "{emulator.base_url}"\n\n'
        for org in clients
    )
    environment = {f"{org.upper()}_ID": c for org, c in clients.items()}
    environment |= {f"{org.upper()}_SECRET": f"{org}-secret-4242" for org in clients}
    serve.start(sweep={"org_lease": "3s"}, environment=environment, extra=tables)  # claimed in ~1 s

    def first(org: str) -> datetime | None:
        sent = [_at(r) for r in _sent(emulator, clients[org]) if r["path"] != "/oauth/token"]
        return min(sent) if sent else None

    globex = wait_until(lambda: first("globex"), "globex's first platform request", timeout=HOLD + 20)
    acme = wait_until(lambda: first("acme"), "acme's first platform request", timeout=HOLD + 20)
    assert globex < holds_until - timedelta(seconds=1), "globex started only after acme's count ended"
    assert acme >= holds_until - timedelta(milliseconds=50), (acme, holds_until)


def test_a_running_serve_keeps_the_counts_that_matter_in_the_ledger(emulator: Any, serve: Serve) -> None:
    limit = 20  # half of its budget (19) is counted after a few requests
    client_id = _client(emulator, serve, limit)
    emulator.create_conversations([idle_chat(45) for _ in range(12)])
    serve.start(sweep={"requests_per_minute": limit})
    key = client_key(resolve(None, emulator.base_url).api_base, client_id)

    def saved() -> SavedCount | None:
        with Ledger.open(serve.ledger_url) as ledger:
            return ledger.platform_counts.load(key)

    record = wait_until(lambda: (s := saved()) is not None and s.count >= 12 and s, "a count of 12 saved")
    sent = [r for r in _sent(emulator, client_id) if r["path"] != "/oauth/token"]
    assert record.allowed == limit
    assert record.count <= len(sent)  # the platform's count, not ours
    assert 0 < (record.holds_until - record.seen_at).total_seconds() <= 60
    assert abs((record.seen_at - datetime.now(UTC)).total_seconds()) < 30


# -- the keeper and the loader on their own, over a real SQLite ledger --------------------------------


@pytest.fixture
def ledger(tmp_path: Path) -> Any:
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}") as opened:
        yield opened


def test_counts_below_half_the_budget_are_not_saved(ledger: Ledger) -> None:
    async def main() -> None:
        keeper = CountKeeper(ledger.platform_counts, "client-a")
        for count in range(0, 143):  # half of 285 is 142.5
            keeper.observe(PlatformCount(300, count, 30))
        await keeper.aclose()
        assert keeper.saves == 0

    asyncio.run(main())
    assert ledger.platform_counts.load("client-a") is None


def test_saves_are_coalesced_one_at_a_time_the_latest_next(ledger: Ledger) -> None:
    clock = itertools.count()
    base = datetime(2026, 12, 1, 12, tzinfo=UTC)

    def now() -> datetime:  # each report seen a millisecond after the one before
        return base + timedelta(milliseconds=next(clock))

    async def main() -> CountKeeper:
        keeper = CountKeeper(ledger.platform_counts, "client-a", now=now, spacing=0.05)
        started = time.monotonic()
        for count in range(150, 450):  # 300 reports in ~0.6 s: a high rate
            keeper.observe(PlatformCount(300, count, 30))
            await asyncio.sleep(0.002)
        elapsed = time.monotonic() - started
        await asyncio.sleep(0.2)  # the last one saved by the keeper's own task
        assert keeper.saves <= elapsed / 0.05 + 2, (keeper.saves, elapsed)
        return keeper

    keeper = asyncio.run(main())
    assert 2 <= keeper.saves < 30  # far fewer writes than reports
    saved = ledger.platform_counts.load("client-a")
    assert saved is not None and saved.count == 449  # the latest report


class BrokenCounts:
    """A ledger whose writes fail until `healed`."""

    call_lock = None

    def __init__(self) -> None:
        self.healed = False
        self.saved: list[SavedCount] = []

    def load(self, client: str) -> SavedCount | None:
        raise OperationalError("SELECT", {}, Exception("database is locked"))

    def save(self, client: str, saved: SavedCount) -> None:
        if not self.healed:
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        self.saved.append(saved)


def test_a_failing_ledger_is_logged_and_never_stops_anything() -> None:
    broken = BrokenCounts()

    async def main() -> None:
        assert await load_known_count(broken, "client-a", concurrency=8) is None  # type: ignore[arg-type]
        keeper = CountKeeper(broken, "client-a", spacing=0.01)  # type: ignore[arg-type]
        keeper.observe(PlatformCount(300, 200, 30))
        await asyncio.sleep(0.05)
        assert keeper.saves == 0
        broken.healed = True
        keeper.observe(PlatformCount(300, 210, 30))
        await keeper.aclose()
        assert [s.count for s in broken.saved] == [210]

    asyncio.run(main())


def test_a_saved_count_seeds_while_it_holds_with_the_margin(ledger: Ledger) -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    counts = ledger.platform_counts

    def known(holds: float) -> PlatformCount | None:
        counts.save("client-a", SavedCount(300, 280, now + timedelta(seconds=holds), now))
        return asyncio.run(load_known_count(counts, "client-a", concurrency=8, now=lambda: now))

    assert known(20) == PlatformCount(300, 280 + seed_margin(8, 300), 20.0)
    assert known(-1) is None  # its end has passed: the pacer learns the count as ever
    assert known(3600) == PlatformCount(300, 280 + seed_margin(8, 300), 60.0)  # no longer than a window
    assert asyncio.run(load_known_count(counts, "client-b", concurrency=8)) is None
