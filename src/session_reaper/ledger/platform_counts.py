"""The platform's last count of an OAuth client's requests, shared by restarts and replicas.

The platform counts an OAuth client's requests across processes; a process learns the count from the
answers it gets, so a new one (restarted, or a replica joining) knows nothing before its first answer.
The count is kept here, one row per client, when it mattered (a window well filled): a new process
reads it before its first request. A row holds until `holds_until` (wall time, UTC: when the answer was
seen plus the seconds the platform said its count would not fall); the latest seen wins.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from session_reaper.ledger.engine import dialect_insert, writer
from session_reaper.ledger.schema import platform_counts


@dataclass(frozen=True, slots=True)
class SavedCount:
    """`count` of `allowed` requests counted when seen at `seen_at`, not falling before `holds_until`."""

    allowed: int
    count: int
    holds_until: datetime
    seen_at: datetime


def load(connection: Connection, client: str) -> SavedCount | None:
    row = connection.execute(
        select(
            platform_counts.c.allowed,
            platform_counts.c.count,
            platform_counts.c.holds_until,
            platform_counts.c.seen_at,
        ).where(platform_counts.c.client == client)
    ).one_or_none()
    if row is None:
        return None
    allowed, count, holds_until, seen_at = row  # by position: a Row's `count` is tuple.count
    return SavedCount(allowed, count, holds_until, seen_at)


def save(connection: Connection, client: str, saved: SavedCount) -> None:
    """Keep `saved` unless the row already holds a count seen later (a replica's, written meanwhile)."""
    values = {
        "client": client,
        "allowed": saved.allowed,
        "count": saved.count,
        "holds_until": saved.holds_until,
        "seen_at": saved.seen_at,
    }
    upsert = dialect_insert(connection)(platform_counts).values(values)
    connection.execute(
        upsert.on_conflict_do_update(
            index_elements=[platform_counts.c.client],
            set_={c: upsert.excluded[c] for c in ("allowed", "count", "holds_until", "seen_at")},
            where=platform_counts.c.seen_at <= upsert.excluded.seen_at,
        )
    )


class PlatformCounts:
    """The platform counts of one ledger (`Ledger.platform_counts`): each call one short transaction."""

    def __init__(self, engine: Engine, call_lock: threading.Lock | None = None) -> None:
        self.engine = engine
        self._writer = writer(engine)
        self.call_lock = call_lock  # the ledger's (SQLite): its calls off the loop take turns with its own

    def load(self, client: str) -> SavedCount | None:
        with self.engine.connect() as connection:
            return load(connection, client)

    def save(self, client: str, saved: SavedCount) -> None:
        with self._writer.begin() as connection:
            save(connection, client, saved)
