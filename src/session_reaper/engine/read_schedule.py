"""The read schedule: conversations proven unable to become eligible before a time are not read till then.

Kept across passes by `serve` (one `NotBefore`), and in the journal between one-shot runs, valid only
under the policy it was made with (`policy_fingerprint`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from session_reaper.config import Settings
from session_reaper.core.model import ScheduledRead


@dataclass
class NotBefore:
    """Conversations proven unable to become eligible before a time: not read again until then.

    Kept across passes by `serve`, and in the ledger between one-shot runs (`read_schedule`), where
    an entry counts only for the same conversation (its start time) under the same policy.
    """

    until: dict[str, ScheduledRead] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)  # remembered or forgotten since the last save

    def due(
        self,
        conversation_id: str,
        now: datetime,
        started_at: datetime | None = None,
        participants: str | None = None,
    ) -> bool:
        read = self.until.get(conversation_id)
        if read is None:
            return True
        if read.conversation_start and started_at and read.conversation_start != started_at:
            self.remember(conversation_id, None)  # another conversation under the same id
            return True
        if read.participants_fingerprint and participants != read.participants_fingerprint:
            self.remember(conversation_id, None)  # someone joined or left: read it now
            return True
        if read.until <= now:
            return True
        if participants and not read.participants_fingerprint:
            # Passed over unread (an entry the events made): the fingerprint discovery shows now is kept
            # with it, so that a change of participants from here on brings a read. It can only bring a
            # read sooner, and lets the entry outlive a gap in the events (watch.py): else every gap
            # had the next reconciliation read every chat first seen in an event, thousands (run S).
            start = read.conversation_start or started_at
            self.until[conversation_id] = ScheduledRead(read.until, start, participants)
            self.changed.add(conversation_id)
        return False

    def remember(
        self,
        conversation_id: str,
        until: datetime | None,
        started_at: datetime | None = None,
        participants: str | None = None,
    ) -> None:
        if until is not None:
            self.until[conversation_id] = ScheduledRead(until, started_at, participants)
        else:
            self.until.pop(conversation_id, None)
        self.changed.add(conversation_id)

    def forget_missing(self, seen: set[str], unseen_started: Callable[[datetime | None], bool]) -> None:
        """Forget conversations discovery no longer lists, but not those in windows it did not look at."""
        for conversation_id, read in list(self.until.items()):
            if conversation_id not in seen and not unseen_started(read.conversation_start):
                self.remember(conversation_id, None)

    def load(self, reads: Mapping[str, ScheduledRead]) -> None:
        """Entries from the ledger; what this process already knows wins."""
        for conversation_id, read in reads.items():
            self.until.setdefault(conversation_id, read)

    def take_changes(self) -> tuple[dict[str, ScheduledRead], set[str]]:
        """(entries to write, ids to delete) since the last call."""
        changed, self.changed = self.changed, set()
        keep = {cid: self.until[cid] for cid in changed if cid in self.until}
        return keep, changed - set(keep)


def policy_fingerprint(settings: Settings) -> str:
    """What a read schedule depends on: a schedule made under other thresholds or scope is not used."""
    relevant = {
        "sweep": settings.sweep.model_dump(
            mode="json",
            include={"channels", "queues", "exempt_attribute", "respect_platform_timer", "lookback"},
        ),
        "rules": settings.rules.model_dump(mode="json"),
        "close": settings.close.model_dump(
            mode="json", include={"warn_before", "allow_teardown", "wrapup_code"}
        ),
        "schedule": settings.schedule.model_dump(mode="json"),
    }
    text = json.dumps(relevant, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
