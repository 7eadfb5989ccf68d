"""Replicas sharing a ledger never act on the same conversation — with real processes.

Only PostgreSQL: it is what replicas share. (SQLite's claim is the same statement; its concurrency
between threads is in test_journal, and real processes would cost this suite seconds of start-up.)
"""

from __future__ import annotations

import multiprocessing
import random
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import pytest

from session_reaper.ledger import Ledger

from .workers import hammer_claims

REPLICAS = 4
CONVERSATIONS = 300


@pytest.mark.postgres
@pytest.mark.slow
def test_four_processes_claiming_the_same_conversations_each_win_each_once(postgres_url: str) -> None:
    ids = [f"conv-{n:03d}" for n in range(CONVERSATIONS)]
    orders = [random.Random(seed).sample(ids, len(ids)) for seed in range(REPLICAS)]  # overlap in every order
    context = multiprocessing.get_context("spawn")
    # The ledger is empty: the four replicas also race to migrate it (serialized by the advisory lock).
    with context.Manager() as manager, ProcessPoolExecutor(REPLICAS, mp_context=context) as pool:
        start = manager.Barrier(REPLICAS)
        futures = [
            pool.submit(hammer_claims, postgres_url, f"replica-{n}", orders[n], start)
            for n in range(REPLICAS)
        ]
        won = {f"replica-{n}": future.result(timeout=120) for n, future in enumerate(futures)}

    claims = Counter(cid for ids_won in won.values() for cid in ids_won)
    assert set(claims) == set(ids)
    assert max(claims.values()) == 1
    with Ledger.open(postgres_url) as ledger, ledger.engine.connect() as connection:
        holders: dict[str, str] = dict(
            connection.exec_driver_sql("SELECT conversation_id, owner FROM leases").all()
        )
    assert holders == {cid: owner for owner, ids_won in won.items() for cid in ids_won}
