"""The reaper's own texts (warnings, closing texts) by conversation: they never reset a rule's clock.

Loaded once per sweep from the journal (one query instead of one per conversation); a text sent in
this sweep is added as soon as it is journalled. Outside a sweep (`explain`) the journal is asked for
the one conversation read.
"""

from __future__ import annotations

from datetime import datetime

from session_reaper.core.model import ActivityKind
from session_reaper.core.vocabulary import own_activity
from session_reaper.engine.ports import JournalPort


class OwnMessages:
    def __init__(self, journal: JournalPort) -> None:
        self._journal = journal
        self._loaded: dict[str, dict[str, str]] | None = None  # None: not loaded, ask per conversation

    def load(self, since: datetime) -> None:
        self._loaded = self._journal.reaper_messages_since(since)

    def kinds(self, conversation_id: str) -> dict[str, ActivityKind]:
        if self._loaded is None:
            own = self._journal.reaper_messages(conversation_id)
        else:
            own = self._loaded.get(conversation_id, {})
        return {mid: own_activity(kind) for mid, kind in own.items()}

    def add(self, conversation_id: str, message_id: str, kind: str) -> None:
        """A text just journalled: known to the rest of this sweep at once."""
        if self._loaded is not None:
            self._loaded.setdefault(conversation_id, {})[message_id] = kind
