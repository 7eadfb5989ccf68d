"""The reaper's own texts (warnings, closing texts) by conversation: they never reset a rule's clock.

Loaded once per sweep from the journal (one query instead of one per conversation); a text sent in
this sweep is added as soon as it is journalled. Outside a sweep (`explain`, the console's acts) the
journal is asked, off the event loop, for the one conversation read.
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

    async def kinds(self, conversation_id: str) -> dict[str, ActivityKind]:
        # Once `load`ed, as every sweep and the events mode are, no journal call; unloaded (`explain`,
        # the console's acts) the journal is asked for this conversation, off the loop.
        if self._loaded is None:
            own = await journalled(self._journal.reaper_messages, conversation_id)
        else:
            own = self._loaded.get(conversation_id, {})
        return {mid: own_activity(kind) for mid, kind in own.items()}

    def loaded_kinds(self, conversation_id: str) -> dict[str, ActivityKind]:
        """`kinds` without a journal call, for the events port (on the loop, for each frame): once loaded."""
        if self._loaded is None:
            raise RuntimeError("the reaper's own texts are not loaded: `await load(...)` first")
        return {mid: own_activity(kind) for mid, kind in self._loaded.get(conversation_id, {}).items()}

    def add(self, conversation_id: str, message_id: str, kind: str) -> None:
        """A text just journalled: known to the rest of this sweep at once."""
        if self._loaded is not None:
            self._loaded.setdefault(conversation_id, {})[message_id] = kind
        if self._added is not None:
            self._added.append((conversation_id, message_id, kind))
