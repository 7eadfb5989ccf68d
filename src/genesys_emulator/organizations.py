"""Organizations: several in one emulator, each a world of its own for its clients (assumptions.py).

A client belongs to one organization and sees only that organization's conversations: another
organization's conversation answers 404 to reads and writes and never shows in analytics, exactly as an
id the platform does not know. Queues, the clock and the request log stay shared: they are the
emulator's, not the organization's, and a test reads the log by `clientId`.
"""

from __future__ import annotations

import uuid

from genesys_emulator import assumptions as A
from genesys_emulator.auth import Client
from genesys_emulator.entities import Conversation
from genesys_emulator.errors import not_found

# a named organization's id is derived from its name: stable across runs and resets
_NAMESPACE = uuid.UUID("8f0c2a8e-3c1d-4f4e-9b7a-0e6d5c4b3a21")


def reference(name: str) -> dict[str, str]:
    """The organization as the platform names it (`{id, name}`, the SDK's `OrgOAuthClient.organization`)."""
    if name == A.DEFAULT_ORGANIZATION:
        return {"id": A.ORGANIZATION_ID, "name": A.ORGANIZATION_NAME}
    return {"id": str(uuid.uuid5(_NAMESPACE, name)), "name": name}


def sees(client: Client, conv: Conversation) -> bool:
    return conv.organization == client.organization


def check(client: Client, conv: Conversation | None) -> None:
    """404 for another organization's conversation: the client's platform has no such conversation."""
    if conv is not None and conv.organization != client.organization:
        raise not_found("conversation")
