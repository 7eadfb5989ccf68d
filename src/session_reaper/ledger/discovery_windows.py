"""When discovery last looked at each older analytics window, so that a one-shot sweep (cron) keeps
the slower cadence for zombies months old instead of probing every window on every run.

A row per window key (the discovery scope and the window's fixed block); a later look replaces it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from session_reaper.ledger.engine import dialect_insert
from session_reaper.ledger.schema import discovery_windows


def load(connection: Connection) -> dict[str, datetime]:
    query = select(discovery_windows.c.window_key, discovery_windows.c.scanned_at)
    return {key: at for key, at in connection.execute(query)}


def save(connection: Connection, scans: Mapping[str, datetime]) -> None:
    if not scans:
        return
    upsert = dialect_insert(connection)(discovery_windows)
    statement = upsert.on_conflict_do_update(
        index_elements=[discovery_windows.c.window_key],
        set_={"scanned_at": upsert.excluded.scanned_at},
    )
    connection.execute(statement, [{"window_key": k, "scanned_at": at} for k, at in scans.items()])
