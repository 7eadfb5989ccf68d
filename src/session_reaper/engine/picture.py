"""The events mode's picture: the latest snapshot of each conversation, and a timer at its eligible_at.

No I/O and no clock of its own: every call is given the platform's `now`. Events may come twice or
out of order; the picture keeps the snapshot with the latest content (`content_key`), and a timer is
only a reason to re-check, never a reason to act: the re-read decides. An ended conversation drops out.

Timers are a heap with lazy deletion: re-arming a conversation bumps its generation, and an entry of
an older generation is discarded when it reaches the top.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta

from session_reaper.core.model import Conversation
from session_reaper.core.rules import Action, Policy, Verdict, evaluate

PLATFORM_TIMER_GRACE = timedelta(seconds=10)
Key = tuple[datetime | None, int, int, int]
_UNKNOWN: Key = (None, 0, 0, 0)


def content_key(conversation: Conversation) -> Key:
    """How far along a snapshot is: its latest time, then how many legs ended (or wrapped up), legs, messages.

    Every change the rules can see moves one of them forward (a message, a leg joining, leaving,
    parking, resuming or finishing after-call work); an attribute alone does not, and then the later
    arrival wins. None sorts first: a snapshot without any time is the least known.
    """
    times = [a.at for a in conversation.activities]
    ended = 0
    for p in conversation.participants:
        times.extend(
            t
            for t in (p.started_at, p.connected_at, p.ended_at, p.parked_at, p.resumed_at, p.acw_ended_at)
            if t is not None
        )
        ended += p.ended + (p.acw_ended_at is not None) + (p.wrapup is not None)
    return max(times, default=None), ended, len(conversation.participants), len(conversation.activities)


def _older(a: Key, b: Key) -> bool:
    """Whether key `a` is strictly behind key `b` (None behind any time)."""
    if a[0] != b[0]:
        return a[0] is None or (b[0] is not None and a[0] < b[0])
    return a[1:] < b[1:]


@dataclass
class Seen:
    conversation: Conversation | None  # None: only a reminder (the read schedule's time), not yet seen
    key: Key
    due: datetime | None = None  # when to re-check; None = no timer (nothing makes it eligible by itself)
    generation: int = 0


@dataclass(frozen=True, slots=True)
class Observed:
    """What one snapshot changed: `fresh` (newer than what was known), the timer, and whether it ended."""

    fresh: bool
    due: datetime | None
    ended: bool = False
    verdict: Verdict | None = None


class Picture:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._seen: dict[str, Seen] = {}
        self._timers: list[tuple[datetime, int, str]] = []
        self._generation = 0
        self._armed = 0  # entries whose `due` is set, kept as they change: asked every tick

    def __len__(self) -> int:
        return len(self._seen)

    def __contains__(self, conversation_id: object) -> bool:
        return conversation_id in self._seen

    def get(self, conversation_id: str) -> Seen | None:
        return self._seen.get(conversation_id)

    @property
    def armed(self) -> int:
        """Conversations with a timer set."""
        return self._armed

    def observe(self, conversation: Conversation, now: datetime) -> Observed:
        """Take a snapshot in (from an event or a read); re-arm the timer when it is newer."""
        cid = conversation.id
        key = content_key(conversation)
        known = self._seen.get(cid)
        if known is not None and (known.conversation == conversation or _older(key, known.key)):
            return Observed(False, known.due)  # a duplicate, or behind what is known: changes nothing
        if conversation.ended:
            self.drop(cid)
            return Observed(True, None, ended=True)
        seen = known if known is not None else self._seen.setdefault(cid, Seen(conversation, key))
        seen.conversation, seen.key = conversation, key
        verdict = evaluate(conversation, now, self.policy)
        self._arm(cid, seen, _due(verdict, now))
        return Observed(True, seen.due, verdict=verdict)

    def holds_newer(self, conversation: Conversation) -> bool:
        """Whether the picture's snapshot of it is strictly further along than `conversation`."""
        seen = self._seen.get(conversation.id)
        return seen is not None and _older(content_key(conversation), seen.key)

    def reevaluate(self, conversation_id: str, now: datetime) -> datetime | None:
        """Arm the timer again from the snapshot known (a re-read that brought nothing newer)."""
        seen = self._seen.get(conversation_id)
        if seen is None or seen.conversation is None:
            return None
        self._arm(conversation_id, seen, _due(evaluate(seen.conversation, now, self.policy), now))
        return seen.due

    def remind(self, conversation_id: str, at: datetime) -> None:
        """A conversation known only from the read schedule: a timer at `at`, until an event shows it."""
        if conversation_id not in self._seen:
            seen = Seen(None, _UNKNOWN)
            self._seen[conversation_id] = seen
            self._arm(conversation_id, seen, at)

    def rearm(self, conversation_id: str, at: datetime | None) -> None:
        """Set (or with None clear) the conversation's timer, whatever the snapshot says."""
        seen = self._seen.get(conversation_id)
        if seen is not None:
            self._arm(conversation_id, seen, at)

    def drop(self, conversation_id: str) -> None:
        seen = self._seen.pop(conversation_id, None)  # its heap entries are discarded when they surface
        if seen is not None and seen.due is not None:
            self._armed -= 1

    def prune(self, keep: set[str]) -> int:
        """Forget the conversations without a timer that are not in `keep` (what a sweep still found)."""
        gone = [cid for cid, seen in self._seen.items() if seen.due is None and cid not in keep]
        for cid in gone:
            self.drop(cid)
        return len(gone)

    def next_due(self) -> datetime | None:
        self._discard_stale()
        return self._timers[0][0] if self._timers else None

    def pop_due(self, now: datetime) -> list[str]:
        """The conversations whose timer has passed at `now`, oldest first; their timers are cleared."""
        fired: list[str] = []
        while self._timers:
            self._discard_stale()
            if not self._timers or self._timers[0][0] > now:
                break
            _, _, cid = heapq.heappop(self._timers)
            seen = self._seen[cid]
            seen.due = None
            self._armed -= 1
            fired.append(cid)
        return fired

    def _arm(self, cid: str, seen: Seen, at: datetime | None) -> None:
        self._generation += 1
        seen.generation = self._generation
        self._armed += (at is not None) - (seen.due is not None)
        seen.due = at
        if at is not None:
            heapq.heappush(self._timers, (at, self._generation, cid))

    def _discard_stale(self) -> None:
        while self._timers:
            _, generation, cid = self._timers[0]
            seen = self._seen.get(cid)
            if seen is not None and seen.generation == generation and seen.due is not None:
                return
            heapq.heappop(self._timers)


def _due(verdict: Verdict, now: datetime) -> datetime | None:
    """A verdict that acts is due now; a skip at its eligible_at (None: never by itself); one left to
    the platform's own inactivity timer a little after it, so that the platform's end (an event) comes
    first and no read is spent on a conversation the platform closes itself."""
    if verdict.acts:
        return now
    if verdict.action is Action.DEFER and verdict.eligible_at is not None:
        return verdict.eligible_at + PLATFORM_TIMER_GRACE
    return verdict.eligible_at
