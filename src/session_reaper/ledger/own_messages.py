"""The reaper's own messages: the ids of the warnings and closings it sent, so that a later read
tells them from the customer's and the agent's messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from session_reaper.ledger.engine import dialect_insert
from session_reaper.ledger.schema import reaper_messages
from session_reaper.ledger.vocabulary import MESSAGE_KINDS, check


def record(
    connection: Connection, conversation_id: str, message_id: str, kind: str, sent_at: datetime
) -> None:
    check(kind, MESSAGE_KINDS, "reaper message kind")
    values = {
        "message_id": message_id,
        "conversation_id": conversation_id,
        "kind": kind,
        "sent_at": sent_at,
    }
    statement = dialect_insert(connection)(reaper_messages).values(values)
    connection.execute(statement.on_conflict_do_nothing(index_elements=[reaper_messages.c.message_id]))


def in_conversation(connection: Connection, conversation_id: str) -> dict[str, str]:
    query = select(reaper_messages.c.message_id, reaper_messages.c.kind).where(
        reaper_messages.c.conversation_id == conversation_id
    )
    return {message_id: kind for message_id, kind in connection.execute(query)}


def since(connection: Connection, since: datetime) -> dict[str, dict[str, str]]:
    query = select(
        reaper_messages.c.conversation_id, reaper_messages.c.message_id, reaper_messages.c.kind
    ).where(reaper_messages.c.sent_at >= since)
    found: dict[str, dict[str, str]] = {}
    for conversation_id, message_id, kind in connection.execute(query):
        found.setdefault(conversation_id, {})[message_id] = kind
    return found


def warned_at(connection: Connection, conversation_id: str) -> datetime | None:
    query = select(func.max(reaper_messages.c.sent_at)).where(
        reaper_messages.c.conversation_id == conversation_id, reaper_messages.c.kind == "warning"
    )
    return connection.execute(query).scalar()
