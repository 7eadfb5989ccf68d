"""Organizations in the ledger: the org on sweeps, decisions and the read schedule; each org's view
reads only its own rows; org leases divide the orgs among replicas — on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import text

from session_reaper.core.model import ScheduledRead
from session_reaper.ledger import Ledger

from .conftest import T0

TTL = timedelta(seconds=30)


def test_an_orgs_sweeps_and_decisions_carry_its_name(ledger: Ledger) -> None:
    acme, plain = ledger.for_org("acme"), ledger
    sweep = acme.start_sweep(True, at=T0)
    acted = acme.record_decision(sweep, "conv-a", decision="close", rule="idle", at=T0)
    acme.buffer_decision(sweep, "conv-b", decision="skip", outcome="skipped", at=T0)
    acme.finish_sweep(sweep, {"closed": 1}, at=T0)
    other = plain.start_sweep(False, at=T0)
    plain.buffer_decision(other, "conv-c", decision="skip", outcome="skipped", at=T0)
    plain.flush()

    with ledger.engine.connect() as connection:
        sweeps = dict(connection.execute(text("SELECT id, org FROM sweeps")).all())
        decisions = dict(connection.execute(text("SELECT conversation_id, org FROM decisions")).all())
    assert sweeps == {sweep: "acme", other: None}
    assert decisions == {"conv-a": "acme", "conv-b": "acme", "conv-c": None}
    assert acted > 0


def test_an_orgs_pending_decisions_and_console_acts_carry_its_name(ledger: Ledger) -> None:
    acme, globex = ledger.for_org("acme"), ledger.for_org("globex")
    hour = timedelta(hours=1)
    for org_ledger, conversation in ((acme, "conv-a"), (globex, "conv-g")):
        org_ledger.pend(
            conversation, rule="idle", decision="close", reason="idle", queue_id=None, now=T0, ttl=hour
        )
    globex.record_console_action("Grace", "close", "conv-g", at=T0)

    assert [(p.conversation_id, p.org) for p in acme.pending_decisions(T0)] == [("conv-a", "acme")]
    assert [(p.conversation_id, p.org) for p in globex.pending_decisions(T0)] == [("conv-g", "globex")]
    every = ledger.pending_decisions(T0)  # the unnamed view: every org's (the console finds the org)
    assert sorted((p.conversation_id, p.org) for p in every) == [("conv-a", "acme"), ("conv-g", "globex")]
    found = ledger.pending_decision(every[0].decision_id)
    assert found is not None and found.org == every[0].org
    with ledger.engine.connect() as connection:
        acts = connection.execute(text("SELECT operator, conversation_id, org FROM console_actions")).all()
    assert [tuple(a) for a in acts] == [("Grace", "conv-g", "globex")]


def test_recovery_sees_only_its_orgs_open_intents(ledger: Ledger) -> None:
    acme, globex = ledger.for_org("acme"), ledger.for_org("globex")
    for org_ledger, conversation in ((acme, "conv-a"), (globex, "conv-g")):
        sweep = org_ledger.start_sweep(True, at=T0)
        decision = org_ledger.record_decision(sweep, conversation, decision="close", at=T0)
        org_ledger.step_intent(decision, conversation, "disconnect:agent", "agent-1", at=T0)

    assert [p.conversation_id for p in acme.pending_steps()] == ["conv-a"]
    assert [p.conversation_id for p in globex.pending_steps()] == ["conv-g"]
    assert sorted(p.conversation_id for p in ledger.pending_steps()) == ["conv-a", "conv-g"]


def test_each_org_keeps_its_own_read_schedule_and_discovery_windows(ledger: Ledger) -> None:
    acme, globex = ledger.for_org("acme"), ledger.for_org("globex")
    later = T0 + timedelta(hours=1)
    acme.save_read_schedule("policy-1", T0, {"conv-a": ScheduledRead(later, T0, "fp")})
    globex.save_read_schedule("policy-1", T0, {"conv-g": ScheduledRead(later, T0, "fp")})
    acme.save_window_scans({"scope/2026-11": T0})

    assert set(acme.read_schedule("policy-1", T0)) == {"conv-a"}
    assert set(globex.read_schedule("policy-1", T0)) == {"conv-g"}
    assert acme.window_scans() == {"scope/2026-11": T0}
    assert globex.window_scans() == {}
    # globex forgetting what it does not know leaves acme's row alone
    globex.save_read_schedule("policy-1", T0, {}, forget=["conv-g"])
    assert set(acme.read_schedule("policy-1", T0)) == {"conv-a"}
    assert set(globex.read_schedule("policy-1", T0)) == set()


def test_closing_an_orgs_view_leaves_the_ledger_open(ledger: Ledger) -> None:
    acme = ledger.for_org("acme")
    sweep = acme.start_sweep(False, at=T0)
    acme.buffer_decision(sweep, "conv-a", decision="skip", outcome="skipped", at=T0)
    acme.close()  # flushes its buffer, keeps the shared connections

    assert ledger.schema_revision() == "0009"
    with ledger.engine.connect() as connection:
        assert connection.execute(text("SELECT org FROM decisions")).scalars().all() == ["acme"]


def test_an_org_is_held_by_one_replica_at_a_time(ledger: Ledger) -> None:
    leases = ledger.org_leases
    assert leases.claim("acme", "replica-a", ttl=TTL, now=T0)
    assert not leases.claim("acme", "replica-b", ttl=TTL, now=T0 + timedelta(seconds=29))
    assert leases.claim("globex", "replica-b", ttl=TTL, now=T0)
    assert leases.holders() == {
        "acme": ("replica-a", T0 + TTL),
        "globex": ("replica-b", T0 + TTL),
    }


def test_a_renewed_org_lease_stays_and_an_unrenewed_one_is_taken_over(ledger: Ledger) -> None:
    leases = ledger.org_leases
    assert leases.claim("acme", "replica-a", ttl=TTL, now=T0)
    assert leases.claim("globex", "replica-a", ttl=TTL, now=T0)
    assert leases.renew("acme", "replica-a", ttl=TTL, now=T0 + timedelta(seconds=20))
    # replica-a died after that renewal: globex is free once its period ran out, acme 20 s later
    after = T0 + TTL + timedelta(seconds=1)
    assert leases.claim("globex", "replica-b", ttl=TTL, now=after)
    assert not leases.claim("acme", "replica-b", ttl=TTL, now=after)
    assert leases.claim("acme", "replica-b", ttl=TTL, now=after + timedelta(seconds=20))
    # the old holder, back from a pause, learns it lost both: its renewals fail
    assert not leases.renew("acme", "replica-a", ttl=TTL, now=after + timedelta(seconds=21))
    assert not leases.renew("globex", "replica-a", ttl=TTL, now=after + timedelta(seconds=21))


def test_a_released_org_is_free_at_once_and_only_its_owner_releases(ledger: Ledger) -> None:
    leases = ledger.org_leases
    assert leases.claim("acme", "replica-a", ttl=TTL, now=T0)
    assert not leases.release("acme", "replica-b")
    assert leases.release("acme", "replica-a")
    assert leases.claim("acme", "replica-b", ttl=TTL, now=T0 + timedelta(seconds=1))
    assert leases.holders() == {"acme": ("replica-b", T0 + timedelta(seconds=1) + TTL)}


def test_org_leases_and_conversation_leases_do_not_mix(ledger: Ledger) -> None:
    assert ledger.org_leases.claim("conv-1", "replica-a", ttl=TTL, now=T0)
    assert ledger.claim("conv-1", "replica-b", ttl=TTL, now=T0)


def test_replicas_racing_for_the_same_orgs_win_each_org_once(ledger_url: str) -> None:
    orgs = [f"org-{n}" for n in range(20)]
    replicas = [Ledger.open(ledger_url, owner=f"replica-{n}") for n in range(4)]
    start = threading.Barrier(len(replicas))

    def race(replica: Ledger) -> list[str]:
        start.wait()
        return [org for org in orgs if replica.org_leases.claim(org, replica.owner, ttl=TTL, now=T0)]

    try:
        with ThreadPoolExecutor(len(replicas)) as pool:
            won = list(pool.map(race, replicas))
    finally:
        for replica in replicas:
            replica.close()
    assert sorted(org for mine in won for org in mine) == sorted(orgs)


def test_a_dead_holders_org_is_taken_over_in_one_statement(ledger: Ledger) -> None:
    leases = ledger.org_leases
    assert leases.claim("acme", "replica-a", ttl=TTL, now=T0)
    assert not leases.take_over("acme", "replica-b", "replica-c", ttl=TTL, now=T0)  # c never held it
    assert leases.take_over("acme", "replica-b", "replica-a", ttl=TTL, now=T0 + timedelta(seconds=1))
    assert not leases.take_over("acme", "replica-c", "replica-a", ttl=TTL, now=T0 + timedelta(seconds=2))
    assert leases.holders()["acme"][0] == "replica-b"


def test_replicas_alive_are_those_whose_heartbeat_has_not_run_out(ledger: Ledger) -> None:
    leases = ledger.org_leases
    assert leases.heartbeat("replica-b", ttl=TTL, now=T0) == ["replica-b"]
    assert leases.heartbeat("replica-a", ttl=TTL, now=T0 + timedelta(seconds=10)) == [
        "replica-a",
        "replica-b",
    ]
    # b stopped beating: gone once its period ran out; a beat again meanwhile
    assert leases.heartbeat("replica-a", ttl=TTL, now=T0 + timedelta(seconds=31)) == ["replica-a"]
    leases.forget("replica-a")
    assert leases.heartbeat("replica-c", ttl=TTL, now=T0 + timedelta(seconds=32)) == ["replica-c"]
