"""Conversation leases: one owner at a time, expiry, renewal, release — on the caller's clock."""

from __future__ import annotations

from datetime import timedelta

from session_reaper.ledger import Ledger

from .conftest import T0

TTL = timedelta(minutes=2)


def test_a_free_conversation_is_claimed_once(ledger: Ledger) -> None:
    assert ledger.claim("conv-1", "replica-a", ttl=TTL, now=T0)
    assert not ledger.claim("conv-1", "replica-b", ttl=TTL, now=T0 + timedelta(seconds=119))
    assert ledger.claim("conv-2", "replica-b", ttl=TTL, now=T0)


def test_the_owner_may_claim_again(ledger: Ledger) -> None:
    assert ledger.claim("conv-1", "replica-a", ttl=TTL, now=T0)
    assert ledger.claim("conv-1", "replica-a", ttl=TTL, now=T0 + timedelta(minutes=1))
    # ... which extended it: still held at T0 + 2m30s.
    assert not ledger.claim("conv-1", "replica-b", ttl=TTL, now=T0 + timedelta(seconds=150))


def test_an_expired_lease_goes_to_the_next_claimant(ledger: Ledger) -> None:
    assert ledger.claim("conv-1", "replica-a", ttl=TTL, now=T0)
    assert ledger.claim("conv-1", "replica-b", ttl=TTL, now=T0 + timedelta(minutes=2, seconds=1))
    # The former owner lost it: it can neither renew nor take it back while b's lease runs.
    assert not ledger.renew("conv-1", "replica-a", ttl=TTL, now=T0 + timedelta(minutes=3))
    assert not ledger.claim("conv-1", "replica-a", ttl=TTL, now=T0 + timedelta(minutes=3))


def test_renewal_extends_only_the_owners_lease(ledger: Ledger) -> None:
    assert ledger.claim("conv-1", "replica-a", ttl=TTL, now=T0)
    assert ledger.renew("conv-1", "replica-a", ttl=TTL, now=T0 + timedelta(minutes=1, seconds=50))
    assert not ledger.claim("conv-1", "replica-b", ttl=TTL, now=T0 + timedelta(minutes=3))
    assert ledger.claim("conv-1", "replica-b", ttl=TTL, now=T0 + timedelta(minutes=4))
    assert not ledger.renew("conv-9", "replica-a", ttl=TTL, now=T0)


def test_release_frees_only_the_owners_lease(ledger: Ledger) -> None:
    assert ledger.claim("conv-1", "replica-a", ttl=TTL, now=T0)
    assert not ledger.release("conv-1", "replica-b")
    assert not ledger.claim("conv-1", "replica-b", ttl=TTL, now=T0)
    assert ledger.release("conv-1", "replica-a")
    assert ledger.claim("conv-1", "replica-b", ttl=TTL, now=T0)


def test_defaults_are_the_ledgers_owner_and_clock(ledger: Ledger) -> None:
    assert ledger.claim("conv-1")  # replica-a at the fake clock's T0, default TTL
    assert not ledger.claim("conv-1", "replica-b", now=T0 + timedelta(minutes=4))
    assert ledger.release("conv-1")


def test_the_holder_is_visible_expired_or_not(ledger: Ledger) -> None:
    assert ledger.lease_holder("conv-1") is None
    assert ledger.claim("conv-1", "replica-a", ttl=TTL, now=T0)
    assert ledger.lease_holder("conv-1") == ("replica-a", T0 + TTL)
    ledger.release("conv-1", "replica-a")
    assert ledger.lease_holder("conv-1") is None


def test_a_dead_holders_lease_is_taken_over_once(ledger: Ledger) -> None:
    assert ledger.claim("conv-1", "host:111:dead", ttl=TTL, now=T0)
    # Two restarted replicas both see the dead holder: one statement each, one winner.
    assert ledger.take_over("conv-1", "host:111:dead", "host:222:new", ttl=TTL, now=T0 + timedelta(seconds=5))
    assert not ledger.take_over(
        "conv-1", "host:111:dead", "host:333:new", ttl=TTL, now=T0 + timedelta(seconds=5)
    )
    assert ledger.lease_holder("conv-1") == ("host:222:new", T0 + timedelta(seconds=5) + TTL)
    assert not ledger.take_over("conv-9", "host:111:dead", "host:222:new", ttl=TTL, now=T0)
