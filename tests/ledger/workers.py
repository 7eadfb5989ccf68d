"""Code run in spawned processes by the concurrency tests (importable, so spawn can find it)."""

from __future__ import annotations

from datetime import timedelta
from threading import Barrier  # what a multiprocessing Manager's Barrier proxy stands for

from session_reaper.ledger import Ledger
from tests.helpers.clocks import T0


def hammer_claims(url: str, owner: str, conversation_ids: list[str], start: Barrier) -> list[str]:
    """Open the ledger (racing the other replicas' migrations) and claim every id; return the ones won."""
    # Timeouts: should one replica fail, the others must fail too instead of waiting for it forever.
    start.wait(timeout=30)
    ledger = Ledger.open(url, owner=owner)
    start.wait(timeout=30)  # everyone migrated and connected: now the claims race each other
    won = [cid for cid in conversation_ids if ledger.claim(cid, owner, ttl=timedelta(hours=1), now=T0)]
    ledger.close()
    return won
