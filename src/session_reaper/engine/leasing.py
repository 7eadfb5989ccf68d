"""Who may act on a conversation now: the lease, and taking it over from a reaper that was killed.

A lease expires on its own (platform time), but a reaper restarted after a crash should not wait out
the leases its dead predecessor held on this very host. Owners are named `host:pid:nonce`; a holder on
this host whose process no longer exists is dead, and its lease is taken over in one statement. A
holder elsewhere, or one whose process is alive, is waited out — the safe direction when in doubt.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from session_reaper.engine.off_loop import journalled
from session_reaper.engine.ports import JournalPort


def act_lease(verify_timeout: timedelta) -> timedelta:
    """How long an act holds its conversation: renewed before each step, so only a stalled act loses it."""
    return max(timedelta(minutes=2), verify_timeout * 4)


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def holder_is_dead(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by another user
        return False
    return False


async def acquire(
    journal: JournalPort, conversation_id: str, owner: str, *, ttl: timedelta, now: datetime
) -> bool:
    """Claim the conversation's lease, taking it over from a dead local holder if need be. Each
    statement is atomic in SQL; another task (or replica) may run between them, as it always could."""
    if await journalled(journal.claim, conversation_id, owner, ttl=ttl, now=now):
        return True
    held = await journalled(journal.lease_holder, conversation_id)
    if held is None:  # released between the two statements
        return await journalled(journal.claim, conversation_id, owner, ttl=ttl, now=now)
    previous, _ = held
    if not holder_is_dead(previous):
        return False
    return await journalled(journal.take_over, conversation_id, previous, owner, ttl=ttl, now=now)
