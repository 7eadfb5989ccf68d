"""Issue 13's done-when: three organizations with their own policies and rate limits, swept by two
`serve --apply` replicas sharing one PostgreSQL ledger.

- each conversation is acted on exactly once (the emulator's own state and request log);
- each client stays within its own limit per minute (the request log, by clientId; no 429);
- one organization's platform answering 503 for a while delays nobody else;
- a replica SIGKILLed mid-sweep hands its orgs over, and nothing is done twice.

One emulator holds the three organizations (a client and its conversations each); the 503 storm is a
fault scoped to one client. The figures (busiest minute per client, hand-over time) are printed.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from session_reaper.ledger import normalize_url
from tests.durability.conftest import writes_per_conversation
from tests.durability.orgs_harness import (
    Deployment,
    Org,
    Replica,
    busiest_minute,
    disconnects,
    requests_by_client,
    wait_until,
)
from tests.helpers.scenarios import idle_chat

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def three_orgs() -> list[Org]:
    return [
        Org("acme", 600, {"rules.idle": {"after": "20m"}}),
        Org("globex", 300, {"rules.idle": {"after": "40m"}}),
        Org("initech", 120, {"rules.idle": {"after": "30m"}, "sweep": {"max_closes": 2}}),
    ]


def ledger_rows(url: str, query: str) -> list[Any]:
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(query)).all())
    finally:
        engine.dispose()


def finished_sweeps(url: str) -> Counter[str]:
    rows = ledger_rows(url, "SELECT org FROM sweeps WHERE finished_at IS NOT NULL")
    return Counter(org for (org,) in rows)


def wait_for_more_sweeps(url: str, orgs: list[str], *replicas: Replica, more: int = 2) -> None:
    """Every org swept `more` times again: a second act, if any were coming, would be in the log.

    On a timeout, what the replicas said (readiness, warnings and errors) goes into the failure: a CI
    run once timed out here, and the counts alone could not tell a stuck pass from a lost org.
    """
    before = finished_sweeps(url)
    try:
        wait_until(
            lambda: all(finished_sweeps(url)[o] >= before[o] + more for o in orgs),
            "more passes of every org",
            timeout=60,  # two passes take ~2 s; a CI run once saw one org's take over 30 s (not explained)
        )
    except AssertionError as exc:
        said = [
            f"{replica.name}: {replica.readyz() if replica.process.poll() is None else 'exited'}; "
            + "; ".join(
                " ".join(
                    str(line[key])
                    for key in ("timestamp", "event", "org", "conversation_id", "problem", "error", "reason")
                    if line.get(key)
                )
                for line in replica.log_lines()[-200:]
                if line.get("level") in ("warning", "error")
            )[-3000:]
            for replica in replicas
        ]
        raise AssertionError(
            f"{exc}: before {dict(before)}, now {dict(finished_sweeps(url))}; {said}"
        ) from None


def test_three_orgs_on_two_replicas_each_conversation_acted_on_once_within_each_limit(
    emulator: Any, tmp_path: Path, postgres_url: str
) -> None:
    deployment = Deployment(emulator, tmp_path, postgres_url, three_orgs())
    ids = {
        name: {
            "25m": deployment.conversations(name, [idle_chat(25)] * 4),
            "50m": deployment.conversations(name, [idle_chat(50)] * 4),
        }
        for name in deployment.orgs
    }
    # each org's own threshold: acme (20m) closes both, globex (40m) only the older, initech (30m) too
    closing = {
        "acme": ids["acme"]["25m"] + ids["acme"]["50m"],
        "globex": ids["globex"]["50m"],
        "initech": ids["initech"]["50m"],
    }
    staying = ids["globex"]["25m"] + ids["initech"]["25m"]
    try:
        one, two = deployment.start("one"), deployment.start("two")
        wait_until(
            lambda: all(deployment.ended(c) for group in closing.values() for c in group),
            "every eligible conversation closed",
            timeout=40,
        )
        wait_for_more_sweeps(postgres_url, list(deployment.orgs), one, two)
        held = {"one": one.held(), "two": two.held()}
        exposed = {"one": one.metrics(), "two": two.metrics()}
        assert deployment.terminate() == {"one": 0, "two": 0}
    finally:
        deployment.stop()

    log = emulator.requests()
    every = [c for group in ids.values() for part in group.values() for c in part]
    acts = disconnects(log, every)
    assert {c: acts[c] for group in closing.values() for c in group} == {
        c: 1 for group in closing.values() for c in group
    }
    assert {c: acts[c] for c in staying} == dict.fromkeys(staying, 0)
    assert not any(deployment.ended(c) for c in staying)
    # divided: each org swept by one replica, both replicas holding some
    assert sorted(held["one"] | held["two"]) == sorted(deployment.orgs), held
    assert not held["one"] & held["two"] and held["one"] and held["two"], held
    # /metrics: each replica's figures by org, 1 for the orgs it holds
    for replica, exposition in exposed.items():
        for name in held[replica]:
            assert f'session_reaper_org_held{{org="{name}"}} 1.0' in exposition
            assert f'session_reaper_decisions_total{{decision="close",org="{name}"' in exposition
    # each client within its own limit, on its own platform only
    by_client = requests_by_client(log)
    figures = {client: busiest_minute(entries) for client, entries in by_client.items()}
    print(f"\nbusiest minute per client: {figures}")
    for org in deployment.orgs.values():
        assert figures[org.client_id] <= org.limit, (org.name, figures)
        assert not [e for e in by_client[org.client_id] if e["status"] == 429]
    for name, group in ids.items():
        mine = {c for part in group.values() for c in part}
        writers = {e["clientId"] for e in log if any(c in e["path"] for c in mine)}
        assert writers == {f"{name}-client"}
    # the ledger names the org of every sweep and decision; leases all given back
    assert {org for (org,) in ledger_rows(postgres_url, "SELECT DISTINCT org FROM decisions")} == set(
        deployment.orgs
    )
    assert ledger_rows(postgres_url, "SELECT org FROM org_leases") == []


def exactly_once(log: list[dict[str, Any]], ids: list[str]) -> dict[str, Counter[str]]:
    """The conversations whose writes were not each done exactly once (empty: all were)."""
    counts = writes_per_conversation(log, ids, refused_too=True)
    return {
        cid: counts[cid]
        for cid in ids
        if (counts[cid]["disconnect:participant"], counts[cid]["annotate"], counts[cid]["text"]) != (1, 1, 1)
        or counts[cid]["teardown"]
        or counts[cid]["PATCH conversation"]
    }


def test_one_orgs_503_storm_delays_nobody_else(emulator: Any, tmp_path: Path, postgres_url: str) -> None:
    # globex's requests are refused and retried as always, only after short waits: the storm's
    # length is the test's (it lasts until cleared), not the backoff's
    deployment = Deployment(emulator, tmp_path, postgres_url, three_orgs(), retry_backoff="20ms")
    ids = {name: deployment.conversations(name, [idle_chat(50)] * 6) for name in deployment.orgs}
    storm = emulator.fault(path="^/api/v2/", status=503, clientId="globex-client")
    try:
        one, two = deployment.start("one"), deployment.start("two")
        started = time.monotonic()
        wait_until(
            lambda: all(deployment.ended(c) for name in ("acme", "initech") for c in ids[name]),
            "the other orgs closed during globex's storm",
            timeout=40,
        )
        others_done = time.monotonic() - started
        # the storm still rages: globex has been refused and has closed nothing
        during = emulator.requests()
        refused = [e for e in during if e["clientId"] == "globex-client" and e["status"] == 503]
        assert refused and not any(deployment.ended(c) for c in ids["globex"])
        # /readyz says so: globex's last pass failed, the others are fine, the replicas ready
        wait_until(lambda: globex_reported(one, two), "globex's outage on /readyz")
        # each org as its holder describes it
        held_states = {
            org: state
            for replica in (one, two)
            for org, state in (replica.readyz() or {})["orgs"].items()
            if state not in ("swept by another replica", "not held", "handing over")
        }
        emulator.clear_faults()
        wait_until(lambda: all(deployment.ended(c) for c in ids["globex"]), "globex closed after the storm")
        globex_done = time.monotonic() - started
        assert deployment.terminate() == {"one": 0, "two": 0}
    finally:
        deployment.stop()

    print(
        f"\n503 storm: acme and initech done {others_done:.1f}s after start; globex refused "
        f"{len(refused)} times, done {globex_done:.1f}s after start (storm cleared at {others_done:.1f}s)"
    )
    log = emulator.requests()
    assert storm["clientId"] == "globex-client"
    assert not [e for e in log if e["clientId"] != "globex-client" and e["status"] >= 500]
    assert exactly_once(log, [c for group in ids.values() for c in group]) == {}
    assert held_states["acme"] == held_states["initech"] == "ok"
    assert "503" in held_states["globex"] or "unavailable" in held_states["globex"].lower(), held_states


def globex_reported(*replicas: Replica) -> bool:
    for replica in replicas:
        ready = replica.readyz() or {}
        state = ready.get("orgs", {}).get("globex", "")
        if ready.get("status") == "ready" and state.startswith("last pass"):
            return True
    return False


def test_a_replica_sigkilled_mid_sweep_hands_its_orgs_over_and_nothing_is_done_twice(
    emulator: Any, tmp_path: Path, postgres_url: str
) -> None:
    # A write the kill cut off in flight stays open until it can no longer land: the request timeout plus
    # max(10 s, twice it) of wall time (fix 9), 90 s at the default 30 s; 3 s keeps that to 13 s here.
    deployment = Deployment(
        emulator, tmp_path, postgres_url, three_orgs(), concurrency=2, request_timeout="3s"
    )
    for org in deployment.orgs.values():
        org.policy.get("sweep", {}).pop("max_closes", None)
    ids = {name: deployment.conversations(name, [idle_chat(50)] * 6) for name in deployment.orgs}
    every = [c for group in ids.values() for c in group]
    # slow writes stretch the sweeps: the kill lands while steps are in flight
    emulator.fault(method="PATCH", path=".*", latencyMs=150)
    emulator.fault(method="POST", path=".*/messages$", latencyMs=150)
    try:
        one, two = deployment.start("one"), deployment.start("two")
        wait_until(lambda: one.held() and two.held(), "both replicas holding orgs")
        victim, survivor = one, two
        doomed = victim.held()
        doomed_ids = [c for name in doomed for c in ids[name]]
        # mid-sweep: the victim's orgs have begun closing. Waited for as "begun", which stays true, not as
        # "begun and not finished", a window a loaded machine's polls could miss; that the kill still
        # landed before the end is checked once it is dead.
        wait_until(lambda: any(map(deployment.ended, doomed_ids)), "the victim's orgs being closed")
        victim.kill()
        ended_at_kill = sum(map(deployment.ended, doomed_ids))
        assert ended_at_kill < len(doomed_ids), "the victim finished its sweep before it was killed"
        killed = time.monotonic()
        wait_until(lambda: survivor.held() == set(deployment.orgs), "the survivor holding every org")
        hand_over = time.monotonic() - killed
        wait_until(lambda: all(deployment.ended(c) for c in every), "every conversation closed", timeout=40)
        wait_for_more_sweeps(postgres_url, list(deployment.orgs), survivor)
        assert survivor.terminate() == 0  # the victim is gone already
    finally:
        deployment.stop()

    print(
        f"\nSIGKILL hand-over: {ended_at_kill} of {len(doomed_ids)} closed at the kill; {sorted(doomed)}"
        f" swept again by the survivor {hand_over:.2f}s after the kill"
    )
    assert exactly_once(emulator.requests(), every) == {}
    pending = ledger_rows(postgres_url, "SELECT id FROM steps WHERE outcome IS NULL")
    assert pending == []


def test_a_tight_limit_holds_back_its_own_org_and_nobody_else(
    emulator: Any, tmp_path: Path, postgres_url: str
) -> None:
    tight = Org("initech", 30, {"rules.idle": {"after": "30m"}})
    deployment = Deployment(emulator, tmp_path, postgres_url, [*three_orgs()[:2], tight])
    ids = {
        name: deployment.conversations(name, [idle_chat(50)] * (10 if name == "initech" else 6))
        for name in deployment.orgs
    }
    try:
        one, two = deployment.start("one", "--grace", "8"), deployment.start("two", "--grace", "8")
        wait_until(
            lambda: all(deployment.ended(c) for name in ("acme", "globex") for c in ids[name]),
            "acme and globex closed",
            timeout=40,
        )
        # initech wants far more than 30 requests a minute: it goes on at its own pace meanwhile
        wait_until(
            lambda: len(requests_by_client(emulator.requests()).get(tight.client_id, [])) >= 25,
            "initech working up to its limit",
        )
        # the one sweeping initech may have to cut a step short that waits for initech's budget (exit 1)
        holders = {"one": one.held(), "two": two.held()}
        codes = deployment.terminate()
    finally:
        deployment.stop()

    log = emulator.requests()
    by_client = requests_by_client(log)
    figures = {client: busiest_minute(entries) for client, entries in by_client.items()}
    print(f"\ntight limit: busiest minute per client {figures} (initech's limit {tight.limit})")
    assert figures[tight.client_id] <= tight.limit
    assert not [e for e in log if e["status"] == 429]
    assert not all(deployment.ended(c) for c in ids["initech"])  # held back by its own budget only
    acts = disconnects(log, [c for group in ids.values() for c in group])
    assert max(acts.values()) == 1
    for name, code in codes.items():
        assert code == 0 or (code == 1 and "initech" in holders[name]), (codes, holders)


def test_one_orgs_refused_credentials_are_reported_and_stop_nobody_else(
    emulator: Any, tmp_path: Path, postgres_url: str
) -> None:
    deployment = Deployment(emulator, tmp_path, postgres_url, three_orgs())
    ids = {name: deployment.conversations(name, [idle_chat(50)] * 3) for name in deployment.orgs}
    env = deployment.env()
    env["GLOBEX_CLIENT_SECRET"] = "not-globex-secret"  # a rotated secret nobody updated
    try:
        replica = Replica("one", tmp_path, deployment.config, env)
        deployment.replicas.append(replica)
        wait_until(
            lambda: all(deployment.ended(c) for name in ("acme", "initech") for c in ids[name]),
            "acme and initech closed",
        )
        ready = wait_until(
            lambda: (r := replica.readyz()) and r["orgs"].get("globex") not in ("ok", "starting") and r,
            "globex's refusal on /readyz",
        )
        exposition = replica.metrics()
        assert deployment.terminate() == {"one": 0}
    finally:
        deployment.stop()

    assert ready["status"] == "ready"
    assert ready["orgs"]["acme"] == ready["orgs"]["initech"] == "ok"
    assert not any(deployment.ended(c) for c in ids["globex"])
    refused = [
        line
        for line in replica.log_lines()
        if line.get("org") == "globex" and line.get("event") == "organization cannot be swept"
    ]
    assert refused and all(line["level"] == "error" for line in refused)
    assert "not-globex-secret" not in replica.stderr() + json.dumps(ready)
    assert 'session_reaper_org_held{org="globex"} 1.0' in exposition
    assert 'session_reaper_sweeps_total{org="acme",outcome="ok"}' in exposition
