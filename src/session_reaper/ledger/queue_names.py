"""Queue names the reaper has read (or was refused for good), so that each queue is read once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from session_reaper.ledger.engine import dialect_insert
from session_reaper.ledger.schema import queues


def known(connection: Connection) -> set[str]:
    return set(connection.execute(select(queues.c.queue_id)).scalars())


def record(connection: Connection, queue_id: str, name: str | None, status: int | None, at: datetime) -> None:
    values = {"queue_id": queue_id, "name": name, "status": status, "read_at": at}
    upsert = dialect_insert(connection)(queues).values(values)
    connection.execute(
        upsert.on_conflict_do_update(
            index_elements=[queues.c.queue_id],
            set_={c: upsert.excluded[c] for c in ("name", "status", "read_at")},
        )
    )
