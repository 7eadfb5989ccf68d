"""What several conversations share while the engine acts on them: the caps, and taking turns.

Owned by the caller of `reconcile` (one per sweep today; an event loop would keep one per window) and
passed in, so that reconciling one conversation never calls back up into its caller.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from session_reaper.core.rules import Action, Verdict

_CAPPED_CLOSES = frozenset({Action.CLOSE, Action.WARN})


@dataclass
class Caps:
    """How many more closes (warnings count) and teardowns may be started; a teardown is a close too."""

    closes_left: int
    teardowns_left: int

    def take(self, verdict: Verdict) -> bool:
        """Whether the verdict may be acted on; if so, it uses up its share."""
        if verdict.action in _CAPPED_CLOSES:
            if self.closes_left <= 0:
                return False
            self.closes_left -= 1
        elif verdict.action is Action.TEARDOWN:
            if self.teardowns_left <= 0 or self.closes_left <= 0:
                return False
            self.teardowns_left -= 1
            self.closes_left -= 1
        return True

    def give_back(self, verdict: Verdict) -> None:
        """The share `take` used, for a verdict that was not acted on after all (decided again)."""
        if verdict.action in _CAPPED_CLOSES:
            self.closes_left += 1
        elif verdict.action is Action.TEARDOWN:
            self.teardowns_left += 1
            self.closes_left += 1


@dataclass
class Turns:
    """Until one disconnect has been accepted (2xx), closes take turns: a client that may not disconnect
    writes to one guest at most (the closing text precedes the disconnect), not one per worker."""

    first_disconnect: asyncio.Lock = field(default_factory=asyncio.Lock)
    disconnect_proven: asyncio.Event = field(default_factory=asyncio.Event)
