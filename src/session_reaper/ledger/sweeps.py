"""The journal's sweeps: one row per sweep, opened when it starts and closed with its summary."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.engine import Connection

from session_reaper.ledger.engine import inserted_id
from session_reaper.ledger.schema import sweeps


def start(connection: Connection, owner: str, apply: bool, at: datetime, org: str | None = None) -> int:
    values = {"owner": owner, "apply": apply, "started_at": at, "org": org}
    return inserted_id(connection.execute(insert(sweeps).values(values).returning(sweeps.c.id)))


def finish(connection: Connection, sweep_id: int, summary: Mapping[str, Any], at: datetime) -> None:
    connection.execute(
        update(sweeps).where(sweeps.c.id == sweep_id).values(finished_at=at, summary_json=dict(summary))
    )
