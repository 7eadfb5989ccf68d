"""The demo's organization: an emulator seeded with queues, guests and agents, and a day's traffic."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from genesys_emulator.errors import PlatformError
from genesys_emulator.state import World
from genesys_emulator.traffic import WorldTarget

PLATFORM_RATE_LIMIT = 300  # requests per minute per OAuth client on the real platform
DEMO_RATE_LIMIT = 100_000  # raised for the demo, on the emulator and in the reaper's pacing alike
ANALYTICS_LAG = 1.0  # seconds before analytics sees a change (virtual seconds; the clock runs at real speed)
# Seconds before reads see a write. The reaper verifies every close by reading until the end shows, so a
# delay of ~1 s makes each close wait about 1.75 s (polls at 0, 0.25, 0.75, 1.75 s): a few hundred closes
# would take the demo well past a minute. The scenario tests exercise the delay; the demo runs without it.
PROPAGATION_DELAY = 0.0
STALE_AFTER = timedelta(minutes=30)  # "stale": not ended, nobody wrote for this long (the idle default)
WRAPUP_CODE = "code-follow-up"  # the emulator's "Follow-up needed": what acw-stuck applies in the demo
DEMO_CLIENT = ("emulator", "emulator-secret")  # the emulator's default OAuth client
# The demo's journal is thrown away at the end: SQLite in memory (on a disk, every journal entry would
# wait for its fsync, as it must in production, and the demo would take seconds longer).
DEMO_LEDGER = "sqlite:///:memory:"


def day_start(today: datetime | None = None) -> datetime:
    """08:00 UTC of the latest weekday: the demo's virtual morning (only the date comes from this machine)."""
    moment = (today or datetime.now(UTC)).astimezone(UTC)
    while moment.weekday() >= 5:  # Saturday, Sunday: the Friday before
        moment -= timedelta(days=1)
    return moment.replace(hour=8, minute=0, second=0, microsecond=0)


def traffic_seed(seed: int) -> int:
    """The generator's own seed: another random stream than the organization's, or their ids would collide."""
    return seed + 1_000_003


class GuestsAndAgents(WorldTarget):
    """The traffic generator's hands in a world the reaper also works in.

    A guest or agent acting on a conversation the reaper (or the platform) had already ended is refused
    by the emulator; the conversation is counted and the generator carries on, so that both worlds draw
    the same random traffic. Above zero, someone found their chat closed while they were still in it.
    """

    def __init__(self, world: World) -> None:
        super().__init__(world)
        self.refused: set[str] = set()

    def _try(self, conversation_id: str, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except PlatformError:
            self.refused.add(conversation_id)
            return ""

    def message(self, conversation_id: str, sender: str, text: str) -> None:
        self._try(
            conversation_id, lambda: super(GuestsAndAgents, self).message(conversation_id, sender, text)
        )

    def join(self, conversation_id: str, participant: dict[str, Any]) -> str:
        joined = self._try(
            conversation_id, lambda: super(GuestsAndAgents, self).join(conversation_id, participant)
        )
        return str(joined)

    def leave(self, conversation_id: str, participant_id: str, disconnect_type: str) -> None:
        self._try(
            conversation_id,
            lambda: super(GuestsAndAgents, self).leave(conversation_id, participant_id, disconnect_type),
        )

    def wrapup(self, conversation_id: str, participant_id: str, code: str, notes: str) -> None:
        self._try(
            conversation_id,
            lambda: super(GuestsAndAgents, self).wrapup(conversation_id, participant_id, code, notes),
        )


def stale_sessions(world: World, channels: Iterable[str]) -> int:
    """Conversations of the channels in scope, not ended, where nobody wrote for `STALE_AFTER` or more.

    Counted in the emulator's own world (in-process), the same way for both worlds; the reaper's own
    closing texts end their conversation at once, so they never keep one here.
    """
    scope = frozenset(channels)
    with world.lock:
        now = world.tick()
        count = 0
        for conversation_id in world.open_ids:
            conv = world.conversations[conversation_id]
            if conv.media != "message" or conv.message_type not in scope:
                continue
            last = max((w.at for leg in conv.legs for w in leg.messages), default=conv.start)
            if now - last >= STALE_AFTER:
                count += 1
        return count


def not_in_scope(world: World, channels: Iterable[str]) -> int:
    """Unended conversations the reaper never even reads: other media, or message channels out of scope."""
    scope = frozenset(channels)
    with world.lock:
        return sum(
            1
            for cid in world.open_ids
            if world.conversations[cid].media != "message"
            or world.conversations[cid].message_type not in scope
        )
