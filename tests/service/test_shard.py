"""`serve` with organizations, in-process: two replicas' shards divide three orgs by org leases, each
org swept by its own client only, one org's bad credentials reported and nobody else's business, a lost
lease stops that org's loop, and a graceful stop gives every lease back."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from session_reaper.commands.serve.shard import Shard
from session_reaper.commands.serve.sharded import org_specs
from session_reaper.config import Credentials, Organization, parse_settings
from session_reaper.ledger import Ledger
from session_reaper.telemetry.metrics import Metrics
from tests.helpers.scenarios import idle_chat

ORGS = ("acme", "globex", "initech")
LEASE = timedelta(seconds=3)


def orgs(emulator: Any, ledger_url: str, secrets: dict[str, str] | None = None) -> list[Organization]:
    settings = parse_settings(f'[sweep]\nledger = "{ledger_url}"\ninterval = "1s"\nmax_closes = 100\n')
    found = []
    for name in ORGS:
        emulator.add_client(f"{name}-client", f"{name}-secret", organization=name)
        secret = (secrets or {}).get(name, f"{name}-secret")
        credentials = Credentials(
            client_id=f"{name}-client", client_secret=SecretStr(secret), api_url=emulator.base_url
        )
        found.append(Organization(name, credentials, settings))
    return found


def ended(emulator: Any, conversation_id: str) -> bool:
    """Everyone has left (the admin's view: it sees every organization's conversations)."""
    view = emulator.conversation(conversation_id)
    return all(p["state"] in ("disconnected", "terminated") for p in view["participants"])


async def until(check: Callable[[], Awaitable[bool] | bool], what: str, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        answer = check()
        if answer if isinstance(answer, bool) else await answer:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def test_two_replicas_divide_three_orgs_and_each_org_is_swept_by_its_own_client(
    emulator: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    configured = orgs(emulator, url)
    ids = {
        name: emulator.create_conversations([{**idle_chat(50), "organization": name} for _ in range(3)])
        for name in ORGS
    }
    one, two = Ledger.open(url, owner="one"), Ledger.open(url, owner="two")

    async def run() -> tuple[dict[str, str], dict[str, str]]:
        a = Shard(org_specs(configured), one, Metrics(orgs=True), apply=True, lease=LEASE, owner="one")
        b = Shard(org_specs(configured), two, Metrics(orgs=True), apply=True, lease=LEASE, owner="two")
        for _ in range(3):  # both beat, then both claim their share, then settle
            await a.tick()
            await b.tick()
        await until(
            lambda: all(ended(emulator, cid) for group in ids.values() for cid in group),
            "every org's conversations closed",
        )
        held = (dict.fromkeys(a.loops, "one") | dict.fromkeys(b.loops, "two"), await a.readiness())
        assert await a.drain(5) and await b.drain(5)
        return held

    try:
        holders, detail = asyncio.run(run())
        leases_left = one.org_leases.holders()
    finally:
        one.close()
        two.close()

    assert sorted(holders) == sorted(ORGS)
    assert sorted(Counter(holders.values()).values()) == [1, 2]  # divided: two and one
    assert {detail[name] for name, owner in holders.items() if owner == "one"} == {"ok"}
    assert {detail[name] for name, owner in holders.items() if owner == "two"} == {"swept by another replica"}
    assert leases_left == {}  # a graceful stop gives every org back
    writers: dict[str, set[str]] = {}
    for request in emulator.requests():
        for name, group in ids.items():
            if any(cid in request["path"] for cid in group):
                writers.setdefault(name, set()).add(request["clientId"])
    assert writers == {name: {f"{name}-client"} for name in ORGS}


def test_one_orgs_bad_credentials_are_reported_and_the_others_are_swept(
    emulator: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    configured = orgs(emulator, url, secrets={"globex": "wrong"})
    ids = {name: emulator.create_conversations([{**idle_chat(50), "organization": name}]) for name in ORGS}
    ledger = Ledger.open(url, owner="one")
    metrics = Metrics(orgs=True)

    async def run() -> dict[str, str]:
        shard = Shard(org_specs(configured), ledger, metrics, apply=True, lease=LEASE, owner="one")
        await shard.tick()
        await shard.tick()
        await until(
            lambda: all(ended(emulator, cid) for n in ("acme", "initech") for cid in ids[n]),
            "the healthy orgs swept",
        )
        await until(lambda: shard.loops["globex"].problem not in (None, "starting"), "globex's problem")
        detail = await shard.readiness()
        await shard.drain(5)
        return detail

    try:
        detail = asyncio.run(run())
    finally:
        ledger.close()

    assert detail["acme"] == detail["initech"] == "ok"
    assert "globex" in detail and detail["globex"] != "ok"
    assert "wrong" not in detail["globex"]  # the secret itself is never shown
    assert not ended(emulator, ids["globex"][0])
    text = metrics.exposition().decode()
    assert 'session_reaper_sweeps_total{org="acme",outcome="ok"}' in text
    assert 'session_reaper_org_held{org="globex"}' in text


def test_a_lost_org_lease_stops_that_orgs_loop(emulator: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    configured = orgs(emulator, url)[:1]
    ledger = Ledger.open(url, owner="one")

    async def run() -> tuple[bool, bool]:
        shard = Shard(
            org_specs(configured), ledger, Metrics(orgs=True), apply=False, lease=LEASE, owner="one"
        )
        await shard.tick()
        assert "acme" in shard.loops
        loop = shard.loops["acme"]
        # the lease ran out (a long pause) and another replica took it
        later = shard.clock() + LEASE * 2
        assert ledger.org_leases.claim("acme", "two", ttl=LEASE, now=later)
        shard.clock = lambda: later
        await shard.tick()
        await asyncio.wait_for(loop.task or asyncio.sleep(0), 10)
        stopped = loop.stopping.is_set()
        await shard.drain(5)
        return "acme" in shard.loops, stopped

    try:
        still_held, stopped = asyncio.run(run())
        holder = ledger.org_leases.holders()["acme"][0]
    finally:
        ledger.close()
    assert (still_held, stopped, holder) == (False, True, "two")


def test_a_replica_elsewhere_that_stops_renewing_loses_its_orgs_once_its_lease_ran_out(
    emulator: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    configured = orgs(emulator, url)
    ledger = Ledger.open(url)
    moment = [ledger.clock()]

    def clock() -> Any:
        return moment[0]

    async def run() -> tuple[list[str], list[str], list[str]]:
        # "elsewhere" is on another host: its death cannot be seen, only its silence
        a = Shard(
            org_specs(configured),
            ledger,
            Metrics(orgs=True),
            apply=False,
            lease=LEASE,
            owner="elsewhere:1:x",
            clock=clock,
        )
        b = Shard(
            org_specs(configured),
            ledger,
            Metrics(orgs=True),
            apply=False,
            lease=LEASE,
            owner="two",
            clock=clock,
        )
        for _ in range(2):
            await a.tick()
            await b.tick()
        divided = sorted(b.loops)
        for loop in a.loops.values():  # a dies: its loops stop, nothing is released or renewed
            await loop.finish(5)
        moment[0] += LEASE - timedelta(seconds=1)
        await b.tick()
        before_expiry = sorted(b.loops)
        moment[0] += timedelta(seconds=2)
        await b.tick()
        after_expiry = sorted(b.loops)
        await b.drain(5)
        return divided, before_expiry, after_expiry

    try:
        divided, before_expiry, after_expiry = asyncio.run(run())
    finally:
        ledger.close()
    assert len(divided) == 1
    assert before_expiry == divided  # a's leases still run: nobody else sweeps its orgs
    assert after_expiry == sorted(ORGS)  # one lease period after a's last renewal, all are b's


def test_a_replica_that_joins_gets_its_share_handed_over(emulator: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    configured = orgs(emulator, url)
    ledger = Ledger.open(url)

    async def run() -> tuple[list[str], list[str], list[str]]:
        a = Shard(org_specs(configured), ledger, Metrics(orgs=True), apply=False, lease=LEASE, owner="one")
        for _ in range(2):
            await a.tick()
        alone = sorted(a.loops)
        b = Shard(org_specs(configured), ledger, Metrics(orgs=True), apply=False, lease=LEASE, owner="two")
        await b.tick()  # b says it is here
        await a.tick()  # a is over its share now: it hands the last org over
        await until(lambda: not a.handing_over, "the hand-over done")
        await b.tick()  # b takes what is free, up to its share
        mine, theirs = sorted(a.loops), sorted(b.loops)
        await a.drain(5)
        await b.drain(5)
        return alone, mine, theirs

    try:
        alone, mine, theirs = asyncio.run(run())
    finally:
        ledger.close()
    assert alone == sorted(ORGS)
    assert (mine, theirs) == (["acme", "globex"], ["initech"])
