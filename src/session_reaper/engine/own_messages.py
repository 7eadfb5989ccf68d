"""The reaper's own texts (warnings, closing texts) by conversation: they never reset a rule's clock.

Loaded once per sweep from the journal (one query instead of one per conversation); a text sent in
this sweep is added as soon as it is journalled. Outside a sweep (`explain`) the journal is asked for
the one conversation read.
"""

from __future__ import annotations

from datetime import datetime

from session_reaper.core.model import ActivityKind
from session_reaper.core.vocabulary import own_activity
from session_reaper.engine.off_loop import journalled
from session_reaper.engine.ports import JournalPort


class OwnMessages:
    def __init__(self, journal: JournalPort) -> None:
        self._journal = journal
        self._loaded: dict[str, dict[str, str]] | None = None  # None: not loaded, ask per conversation
        self._added: list[tuple[str, str, str]] | None = None  # texts added while `load` queries

    async def load(self, since: datetime) -> None:
        # The query runs in a worker thread: another task (an event's re-check beside a sweep) may
        # journal a text meanwhile, which the query may not see; it is kept all the same.
        added: list[tuple[str, str, str]] = []
        self._added = added
        try:
            loaded = await journalled(self._journal.reaper_messages_since, since)
        finally:
            self._added = None
        for conversation_id, message_id, kind in added:
            loaded.setdefault(conversation_id, {})[message_id] = kind
        self._loaded = loaded

    def kinds(self, conversation_id: str) -> dict[str, ActivityKind]:
        # Synchronous (the events port calls it on the loop for each frame): once `load`ed, as every
        # sweep and the events mode do, no journal call; unloaded (`explain`) it asks per conversation.
        if self._loaded is None:
            own = self._journal.reaper_messages(conversation_id)
        else:
            own = self._loaded.get(conversation_id, {})
        return {mid: own_activity(kind) for mid, kind in own.items()}

    def add(self, conversation_id: str, message_id: str, kind: str) -> None:
        """A text just journalled: known to the rest of this sweep at once."""
        if self._loaded is not None:
            self._loaded.setdefault(conversation_id, {})[message_id] = kind
        if self._added is not None:
            self._added.append((conversation_id, message_id, kind))
