"""The only things the engine knows of the outside: the platform and the journal, as two protocols.

`genesys.GenesysPlatform` implements `PlatformPort`, `ledger.Ledger` implements `JournalPort`; each
method is one call the engine makes today, nothing more. The errors a platform call may raise are
declared here too, so that the engine can tell "gone", "already so" and "refused" apart without
knowing which platform it speaks to (genesys/errors.py derives its hierarchy from them).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from session_reaper.config import Settings
from session_reaper.core.approvals import PendingDecision
from session_reaper.core.model import (
    ActivityKind,
    Conversation,
    DiscoveredConversation,
    DiscoveryScope,
    JournalledSteps,
    PendingStep,
    ScheduledRead,
    StepAttempt,
)
from session_reaper.errors import EXIT_AUTH, ReaperError


class PlatformError(ReaperError):
    """A platform call failed; what the platform said, never a credential."""

    status: int | None = None  # None when no answer came back at all
    code: str | None = None
    context_id: str | None = None
    # The request may have been carried out although no success came back (no answer once it had
    # left, or a 500/502/504): what it did is known only by reading the platform.
    maybe_applied: bool = False


class Gone(PlatformError):
    """The conversation (or queue) does not exist, or no longer does (404)."""


class AlreadyDone(PlatformError):
    """The target is already in the state a write wanted (e.g. the participant left meanwhile)."""


class Refused(PlatformError):
    """The credentials or the client's roles were refused: nothing else can succeed, stop the pass."""

    exit_code = EXIT_AUTH


class Guard(Protocol):
    """An act's fence around each attempt of one write's request (a retry after a 503 or a 429 too).
    Awaited: the fence asks the journal, whose calls run off the event loop."""

    async def before_attempt(self) -> None:
        """Just before the attempt goes out; raises (anything but a transport error) to stop it."""

    async def answered(self) -> None:
        """The platform answered the attempt with an error (a 429 or 5xx to retry after, or the last):
        nothing of it is still on its way. Not told of a success, whose outcome the act journals next."""


class Windows(Protocol):
    """Discovery's memory of when each older window was looked at (loaded from and saved to the journal)."""

    @property
    def changed(self) -> Mapping[str, datetime]: ...

    def not_looked_at(self, started_at: datetime | None) -> bool: ...


class PlatformPort(Protocol):
    # -- clock and cost
    def now(self) -> datetime: ...

    def reached(self) -> datetime:
        """A time the platform's clock has certainly reached (its latest `Date`), at most `now()`:
        what must not postdate a time the platform writes next (a step's intent) is stamped so."""

    @property
    def requests_made(self) -> int: ...

    async def reserve(self, requests: int) -> None:
        """Wait until `requests` can leave back to back without a pacing wait between them."""

    # -- reading (with the reaper's own message ids, so its texts never reset a clock)
    async def read(self, conversation_id: str, own: Mapping[str, ActivityKind]) -> Conversation:
        """The generic view: states, message times, wrap-up and the communication ids to act with."""

    async def recheck(self, conversation_id: str, own: Mapping[str, ActivityKind]) -> Conversation:
        """The media view: an independent second look, just before acting."""

    def windows(self, scans: Mapping[str, datetime]) -> Windows: ...

    def discover(
        self, scope: DiscoveryScope, now: datetime, windows: Windows | None
    ) -> AsyncIterator[DiscoveredConversation]: ...

    async def queue_name(self, queue_id: str) -> tuple[str | None, int | None]:
        """(name, None), or (None, status) when the platform refused it for good; raises otherwise."""

    def may_still_land(self, conversation_id: str) -> bool:
        """Whether a write to it whose answer never came could still be carried out (for a while after
        a timeout or a 5xx that may hide a success): recovery waits before calling it "not sent"."""

    def in_flight_allowance(self) -> timedelta:
        """How long after an attempt of a write leaves it may still be carried out (wall time): until
        its answer is given up on, then the while such a request may still land. A step whose request
        left less than this ago is not called "not sent", whichever process sent it."""

    # -- before the first write
    async def prove_writes(self, settings: Settings) -> None: ...

    def forget_proof(self) -> None: ...

    # -- acting: one request each. `guard` is called just before each attempt of the request goes out
    # (a retry after a 503 or a 429 included) and raises to stop it: an act fenced by the journal.
    async def annotate(
        self,
        conversation_id: str,
        participant_id: str,
        attributes: Mapping[str, str],
        *,
        guard: Guard | None = None,
    ) -> None: ...

    async def send_text(
        self, conversation_id: str, communication_id: str, text: str, *, guard: Guard | None = None
    ) -> str | None:
        """The sent message's id, when the platform gave one."""

    async def disconnect_participant(
        self, conversation_id: str, participant_id: str, *, guard: Guard | None = None
    ) -> None: ...

    async def disconnect_conversation(self, conversation_id: str, *, guard: Guard | None = None) -> None: ...

    async def teardown(self, conversation_id: str, *, guard: Guard | None = None) -> None: ...

    async def apply_wrapup(
        self,
        conversation_id: str,
        participant_id: str,
        communication_id: str,
        code: str,
        notes: str,
        *,
        guard: Guard | None = None,
    ) -> None: ...


class JournalPort(Protocol):
    # Journal times must compare with the platform's: the engine sets this to the platform's clock.
    clock: Callable[[], datetime]
    # The engine calls the journal from worker threads (engine/off_loop.py): those calls take turns on
    # this lock when the journal cannot take two at once (SQLite), and run side by side when it is None.
    call_lock: threading.Lock | None

    # -- sweeps
    def start_sweep(self, apply: bool, *, owner: str | None = None) -> int: ...

    def finish_sweep(self, sweep_id: int, summary: Mapping[str, Any]) -> None: ...

    # -- decisions
    def record_decision(
        self,
        sweep_id: int,
        conversation_id: str,
        *,
        decision: str,
        rule: str | None = None,
        reason: str | None = None,
        queue_id: str | None = None,
        channel: str | None = None,
        threshold_seconds: float | None = None,
        idle_seconds: float | None = None,
        held_seconds: float | None = None,
        platform_now: datetime | None = None,
        operator: str | None = None,
    ) -> int: ...

    def buffer_decision(
        self,
        sweep_id: int,
        conversation_id: str,
        *,
        decision: str,
        outcome: str,
        rule: str | None = None,
        reason: str | None = None,
        queue_id: str | None = None,
        channel: str | None = None,
        threshold_seconds: float | None = None,
        platform_now: datetime | None = None,
    ) -> None: ...

    def set_decision_outcome(
        self,
        decision_id: int,
        outcome: str,
        *,
        error: str | None = None,
        release: tuple[str, str] | None = None,
    ) -> None:
        """`release` (conversation id, owner): give the act's lease back in the same transaction."""

    # -- steps: intent before the request, outcome after; the lease renewed in the same transaction
    def conversation_steps(self, conversation_id: str, *, since: datetime | None = None) -> JournalledSteps:
        """Open intents, the steps in place since `since`, and whether an act journalled done made them."""

    def step_intent(
        self,
        decision_id: int,
        conversation_id: str,
        kind: str,
        participant_id: str | None = None,
        *,
        at: datetime | None = None,
    ) -> int: ...

    def held_step_intent(
        self,
        decision_id: int,
        conversation_id: str,
        kind: str,
        participant_id: str | None,
        *,
        owner: str,
        ttl: timedelta,
        at: datetime,
    ) -> int | None:
        """The intent, journalled only while `owner` still holds the lease (renewed): else None."""

    def step_attempt(
        self,
        step_id: int,
        conversation_id: str,
        owner: str,
        *,
        ttl: timedelta,
        now: datetime,
        until: datetime,
    ) -> StepAttempt: ...

    def step_outcome(
        self,
        step_id: int,
        outcome: str,
        *,
        http_status: int | None = None,
        context_id: str | None = None,
        error_code: str | None = None,
        reaper_message: tuple[str, str, str] | None = None,
    ) -> bool: ...

    def step_sending(self, step_id: int, *, until: datetime | None) -> bool: ...

    def step_settled(
        self, step_id: int, outcome: str, *, in_flight_until: datetime | None, at: datetime | None = None
    ) -> bool: ...

    def pending_steps(self, *, conversation_id: str | None = None) -> list[PendingStep]: ...

    # -- the reaper's own texts
    def record_reaper_message(self, conversation_id: str, message_id: str, kind: str) -> None: ...

    def reaper_messages(self, conversation_id: str) -> dict[str, str]: ...

    def reaper_messages_since(self, since: datetime) -> dict[str, dict[str, str]]: ...

    # -- what the report needs: queue names
    def known_queues(self) -> set[str]: ...

    def record_queue(self, queue_id: str, name: str | None, *, status: int | None = None) -> None: ...

    # -- read schedule and discovery windows
    def read_schedule(self, policy: str, now: datetime) -> dict[str, ScheduledRead]: ...

    def save_read_schedule(
        self, policy: str, decided_at: datetime, reads: Mapping[str, ScheduledRead], forget: set[str]
    ) -> None: ...

    def window_scans(self) -> dict[str, datetime]: ...

    def save_window_scans(self, scans: Mapping[str, datetime]) -> None: ...

    # -- decisions waiting for an operator (rules with approval = true) and the console's acts
    def pend(
        self,
        conversation_id: str,
        *,
        rule: str | None,
        decision: str,
        reason: str,
        queue_id: str | None,
        now: datetime,
        ttl: timedelta,
    ) -> PendingDecision: ...

    def pending_decisions(self, now: datetime) -> list[PendingDecision]: ...

    def pending_decision(self, decision_id: str) -> PendingDecision | None: ...

    def resolve_pending(
        self, decision_id: str, *, approve: bool, operator: str, now: datetime
    ) -> tuple[bool, PendingDecision | None]: ...

    def settle_pending(self, decision_id: str, outcome: str) -> None: ...

    def record_console_action(
        self, operator: str, action: str, conversation_id: str, *, detail: str | None = None
    ) -> None: ...

    # -- its connection: a database server restarted, failed over or out of reach under a running pass
    def connection_lost(self, exc: BaseException) -> ReaperError | None:
        """`exc`, raised by one of its calls, as its connection lost (it may come back by itself), said
        in one line that names the journal but never its password; None for anything else (a table
        gone, a schema error: nothing that mends itself, so the caller fails as before)."""

    def cut_off(self, conversation_id: str, owner: str, sweep_id: int) -> None:
        """Once the ledger answers again: the act's decision `interrupted` if it has no outcome, the lease
        given back."""

    def ping(self) -> None:
        """One round trip to where the journal is kept; raises as its calls would when it is lost."""

    # -- leases
    def claim(
        self, conversation_id: str, owner: str | None = None, *, ttl: timedelta, now: datetime
    ) -> bool: ...

    def renew(self, conversation_id: str, owner: str | None = None, *, ttl: timedelta, now: datetime) -> bool:
        """Extend our lease; False when another owner holds it now (ours ran out and was taken)."""

    def lease_holder(self, conversation_id: str) -> tuple[str, datetime] | None: ...

    def take_over(
        self, conversation_id: str, previous: str, owner: str | None = None, *, ttl: timedelta, now: datetime
    ) -> bool: ...

    def release(self, conversation_id: str, owner: str | None = None) -> bool: ...


# -- events (issue 11): what the platform pushes, as the engine sees it ----------------------------------


@dataclass(frozen=True, slots=True)
class ConversationEvent:
    """A conversation as an event showed it: the whole conversation as of one change."""

    topic: str
    conversation: Conversation
    changed_at: datetime | None  # the platform time of the change (the latest time in the body)


@dataclass(frozen=True, slots=True)
class EventIgnored:
    """A frame that could not be read: counted and ignored, never acted on."""

    topic: str
    reason: str


@dataclass(frozen=True, slots=True)
class Connected:
    """A socket is open and subscribed. `reconnect`: there was a gap, and events are never replayed."""

    channel_id: str
    reconnect: bool


@dataclass(frozen=True, slots=True)
class Disconnected:
    channel_id: str
    reason: str


# In `Subscriptions.rejected`: no queue could be subscribed (not even listed): every queue is polled.
ALL_QUEUES = "*"

EventSignal = ConversationEvent | EventIgnored | Connected | Disconnected


@dataclass(frozen=True, slots=True)
class Subscriptions:
    """Which queues' topics the platform permitted, and why it rejected the others (queue id -> reason)."""

    permitted: frozenset[str]
    rejected: Mapping[str, str] = field(default_factory=dict)
    channels: int = 0


class EventsPort(Protocol):
    """The platform's push side: subscribe the queues in scope, then a stream of signals until closed."""

    async def subscribe(self, scope: DiscoveryScope) -> Subscriptions: ...

    def signals(self, own: Callable[[str], Mapping[str, ActivityKind]]) -> AsyncIterator[EventSignal]:
        """Events and socket changes, reconnecting as needed; `own`: the reaper's texts by conversation."""

    @property
    def down_since(self) -> float | None:
        """Monotonic time since when no socket has been open (None: every channel is connected)."""

    async def aclose(self) -> None: ...
