"""Genesys Cloud as the engine's `PlatformPort`: typed calls, mapping and discovery behind one face.

The only place outside http.py that knows the pacing limiter (`reserve`), and the home of the write
proof (`prove_writes`): a `serve` process shares one `GenesysPlatform` across its passes.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from session_reaper.config import Settings
from session_reaper.core.model import ActivityKind, Conversation, DiscoveredConversation, DiscoveryScope
from session_reaper.engine.ports import Guard, Windows
from session_reaper.genesys.api import GenesysApi
from session_reaper.genesys.attempts import BEFORE_EACH_ATTEMPT
from session_reaper.genesys.capabilities import WriteProof
from session_reaper.genesys.discovery import WindowBook, discover
from session_reaper.genesys.errors import NotFound, PermissionMissing, TransportError
from session_reaper.genesys.mapping import to_conversation

_T = TypeVar("_T")
# How long after a write's answer failed to come the platform may still carry it out, in multiples of
# the request timeout (wall time: what the platform holds is held in its time, not in the clock we read).
IN_DOUBT_TIMEOUTS = 2.0
IN_DOUBT_MIN_SECONDS = 10.0


@dataclass
class GenesysPlatform:
    api: GenesysApi
    write_proof: WriteProof = field(default_factory=WriteProof)  # once per process, again after a 403
    # conversation id -> monotonic time until which a write whose answer never came may still land
    _in_doubt: dict[str, float] = field(default_factory=dict)

    def may_still_land(self, conversation_id: str) -> bool:
        """Whether a write to the conversation whose outcome is unknown could still be carried out:
        recovery must not read "not there" as "not sent" before then, or the text that lands later is
        sent a second time. This process remembers its own writes whose answer never came (a timeout
        after it left, a 5xx that may hide a success), in wall time: what the platform holds, it holds
        in its time, whatever the clock we read. A write still in flight as the process that sent it
        died is not known here: that is the residual race (docs/reliability.md)."""
        until = self._in_doubt.get(conversation_id)
        if until is None:
            return False
        if time.monotonic() >= until:
            del self._in_doubt[conversation_id]
            return False
        return True

    def _horizon(self) -> float:
        return max(IN_DOUBT_MIN_SECONDS, IN_DOUBT_TIMEOUTS * self.api.http.timeout)

    def in_flight_allowance(self) -> timedelta:
        # its answer waited for (the timeout), then the while a request left without one may still land
        return timedelta(seconds=self.api.http.timeout + self._horizon())

    async def _write(self, conversation_id: str, call: Awaitable[_T], guard: Guard | None = None) -> _T:
        # The guard reaches the transport's attempts through a context variable: set for this call's
        # task only, so concurrent acts each keep their own.
        fenced = BEFORE_EACH_ATTEMPT.set(guard)
        try:
            return await call
        except TransportError as exc:
            # No answer after it left: the platform may still be working on it. A 5xx that may hide a
            # success was an answer: whatever it did is done, and the next read shows it.
            if exc.maybe_applied:
                self._in_doubt[conversation_id] = time.monotonic() + self._horizon()
            raise
        finally:
            BEFORE_EACH_ATTEMPT.reset(fenced)

    def now(self) -> datetime:
        return self.api.clock.now()

    def reached(self) -> datetime:
        return self.api.clock.reached()

    @property
    def requests_made(self) -> int:
        return self.api.stats.total

    async def reserve(self, requests: int) -> None:
        await self.api.http.limiter.wait_for_room(requests)

    async def read(self, conversation_id: str, own: Mapping[str, ActivityKind]) -> Conversation:
        view = await self.api.get_conversation(conversation_id)
        return to_conversation(view, own, conversation_id=conversation_id)

    async def recheck(self, conversation_id: str, own: Mapping[str, ActivityKind]) -> Conversation:
        view = await self.api.get_message_conversation(conversation_id)
        return to_conversation(view, own, conversation_id=conversation_id)

    def windows(self, scans: Mapping[str, datetime]) -> WindowBook:
        return WindowBook(dict(scans))

    def discover(
        self, scope: DiscoveryScope, now: datetime, windows: Windows | None
    ) -> AsyncIterator[DiscoveredConversation]:
        assert windows is None or isinstance(windows, WindowBook)  # only ever one made by windows()
        return discover(
            self.api,
            channels=scope.channels,
            queue_include=scope.queue_include,
            queue_exclude=scope.queue_exclude,
            lookback=scope.lookback,
            now=now,
            book=windows,
        )

    async def queue_name(self, queue_id: str) -> tuple[str | None, int | None]:
        try:
            body = await self.api.get_queue(queue_id)
        except (PermissionMissing, NotFound) as exc:  # final: the id is shown instead
            return None, exc.status
        name = body.get("name")
        return (name if isinstance(name, str) and name.strip() else None), None

    async def prove_writes(self, settings: Settings) -> None:
        await self.write_proof.prove(self.api, settings)

    def forget_proof(self) -> None:
        self.write_proof.forget()

    async def annotate(
        self,
        conversation_id: str,
        participant_id: str,
        attributes: Mapping[str, str],
        *,
        guard: Guard | None = None,
    ) -> None:
        await self._write(
            conversation_id,
            self.api.set_participant_attributes(conversation_id, participant_id, dict(attributes)),
            guard,
        )

    async def send_text(
        self, conversation_id: str, communication_id: str, text: str, *, guard: Guard | None = None
    ) -> str | None:
        sent = await self._write(
            conversation_id, self.api.send_message(conversation_id, communication_id, text), guard
        )
        message_id = sent.get("id")
        return message_id if isinstance(message_id, str) and message_id else None

    async def disconnect_participant(
        self, conversation_id: str, participant_id: str, *, guard: Guard | None = None
    ) -> None:
        await self._write(
            conversation_id, self.api.disconnect_participant(conversation_id, participant_id), guard
        )

    async def disconnect_conversation(self, conversation_id: str, *, guard: Guard | None = None) -> None:
        await self._write(conversation_id, self.api.disconnect_conversation(conversation_id), guard)

    async def teardown(self, conversation_id: str, *, guard: Guard | None = None) -> None:
        await self._write(conversation_id, self.api.teardown(conversation_id), guard)

    async def apply_wrapup(
        self,
        conversation_id: str,
        participant_id: str,
        communication_id: str,
        code: str,
        notes: str,
        *,
        guard: Guard | None = None,
    ) -> None:
        await self._write(
            conversation_id,
            self.api.apply_wrapup(conversation_id, participant_id, communication_id, code, notes),
            guard,
        )
