"""Shared pieces of the comparison and scale benchmarks.

- `stepped(world)`: the emulator's virtual clock moves only when the driver advances it (`flowing`: and at
  real speed between), and its per-client rate limit counts on that virtual clock (300 requests per
  *virtual* minute; the emulator's `rate_on_virtual_clock` option, or a patched copy of its limiter on
  older emulators).
- `Baton`: the driver and one tool take turns. The tool runs (its requests take no virtual time) until it
  has to wait — its pacer, a 429's Retry-After, or the next minute's sweep — then hands over the time
  it waits for; the driver plays the guests and agents up to then and hands back.
- `CloseLog`: every close request the emulator receives (participant disconnect, conversation
  disconnect, teardown), judged against the world as it is at that instant: was a person still in it,
  was it exempt, was the platform's own timer running, and how long past the threshold it came.
- `machine()`: the machine line every figure carries.
"""

from __future__ import annotations

import asyncio
import math
import os
import platform
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import psutil

from genesys_emulator.clock import VirtualClock, to_ms
from genesys_emulator.entities import Conversation
from genesys_emulator.errors import PlatformError
from genesys_emulator.state import World
from session_reaper.commands.demo.world import GuestsAndAgents

EXEMPT_ATTRIBUTE = "reaper.exempt"
PEOPLE = ("customer", "agent")
FLOWS = ("workflow", "bot", "ivr")


# ------------------------------------------------------------------------------------ virtual time


class SteppedClock(VirtualClock):
    """A virtual clock that stands still between `advance` calls (the emulator's runs at real speed)."""

    def now(self) -> datetime:
        return to_ms(self._origin)

    def set(self, moment: datetime) -> datetime:
        with self._lock:
            self._origin = to_ms(moment)
        return self.now()


def stepped(world: World, *, flowing: bool = False) -> World:
    """Move `world`'s clock by the driver's advances, and count its rate limit on that clock.

    Frozen between advances by default (a tool's requests take no virtual time: the comparison's turns).
    `flowing`: it also runs at real speed between them, as a platform's clock always does; a client that
    estimates the platform's time as its last reading plus the time since (the reaper) then never gets
    ahead of it, where a frozen clock lets that estimate run ahead by up to a step's wall time.
    """
    if not flowing:
        world.clock.__class__ = SteppedClock
    world.registry.rate_on_virtual_clock = True
    return world


class DayOver(Exception):
    """Raised in the tool when the driver has stopped the day."""


class Baton:
    """Turn-taking between the driver (plays traffic, moves the clock) and one tool thread."""

    def __init__(self, now: Callable[[], float]) -> None:
        self.now = now  # virtual seconds (the world's clock)
        self._cond = threading.Condition()
        self._until: float | None = None
        self._finished = False
        self._stopped = False
        self.error: BaseException | None = None

    # the tool's side
    def wait_until(self, moment: float) -> None:
        with self._cond:
            if self._stopped:
                raise DayOver
            if self.now() >= moment:
                return
            self._until = moment
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._until is None or self._stopped)
            if self._stopped:
                raise DayOver

    def finish(self, error: BaseException | None = None) -> None:
        with self._cond:
            self._finished = True
            self.error = error
            self._cond.notify_all()

    # the driver's side
    def next_wake(self) -> float | None:
        """Block until the tool waits; the virtual time it waits for (None: the tool has finished)."""
        with self._cond:
            self._cond.wait_for(lambda: self._until is not None or self._finished)
            return None if self._finished else self._until

    def release(self) -> None:
        with self._cond:
            self._until = None
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()


class CountingTransport(httpx.AsyncHTTPTransport):
    """Knows how many requests are on the wire, so the tool hands over only once they have landed."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        try:
            return await super().handle_async_request(request)
        finally:
            self.in_flight -= 1


class AsyncBatonSleep:
    """`sleep` for the reaper's `PlatformHttp`: waits on the virtual clock through the baton."""

    def __init__(self, baton: Baton, transport: CountingTransport) -> None:
        self.baton = baton
        self.transport = transport
        self._lock: asyncio.Lock | None = None

    async def __call__(self, seconds: float) -> None:
        target = self.baton.now() + max(0.0, seconds)
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            # Hand over only once every other task waits too: nothing runnable, no request on the wire.
            # Then block the event loop itself while the driver moves the clock, so that no request can
            # leave at a virtual time it would never have left at.
            loop = asyncio.get_running_loop()
            quiet = 0
            while quiet < 3:
                await asyncio.sleep(0)
                idle = self.transport.in_flight == 0 and not getattr(loop, "_ready", None)
                quiet = quiet + 1 if idle else 0
                if not idle and self.transport.in_flight:
                    await asyncio.sleep(0.0005)
            self.baton.wait_until(target)


# --------------------------------------------------------------------------------- ground truth


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The thresholds a tool promises, by situation (the reaper's defaults; the naive script: 30m)."""

    idle: timedelta = timedelta(minutes=30)
    customer_left: timedelta = timedelta(minutes=5)
    queue_abandoned: timedelta = timedelta(minutes=20)
    flow_stuck: timedelta = timedelta(minutes=60)
    orphaned: timedelta = timedelta(minutes=15)

    @classmethod
    def single(cls, after: timedelta) -> Thresholds:
        return cls(after, after, after, after, after)


@dataclass(slots=True)
class Close:
    at: datetime
    conversation_id: str
    kind: str  # participant, conversation, teardown
    situation: str
    threshold: timedelta
    since: datetime | None  # when the situation's clock started (last message, or the customer leaving)
    last_person: datetime | None  # last message of a customer or an agent (the tool's own texts excluded)
    exempt: bool
    timer: bool  # the platform's own inactivity timer was running
    ok: bool = False

    @property
    def in_use(self) -> bool:
        return self.last_person is not None and self.at - self.last_person < self.threshold

    @property
    def wrong(self) -> bool:
        return self.in_use or self.exempt or self.timer

    @property
    def delay(self) -> float | None:
        """Seconds past the threshold (negative: before it)."""
        if self.since is None:
            return None
        return (self.at - (self.since + self.threshold)).total_seconds()


@dataclass
class CloseLog:
    """Wraps a world's close operations to judge every close at the instant it is served."""

    world: World
    thresholds: Thresholds
    closes: list[Close] = field(default_factory=list)
    own_messages: set[str] = field(default_factory=set)  # texts the tool sent (never activity)
    wrapups: int = 0

    def install(self) -> CloseLog:
        world = self.world
        for name, kind in (
            ("disconnect_participant", "participant"),
            ("disconnect_conversation", "conversation"),
            ("teardown", "teardown"),
        ):
            setattr(world, name, self._wrap(getattr(world, name), kind))
        send = world.send_message

        def send_message(conversation_id: str, communication_id: str, text: str) -> dict[str, Any]:
            sent = send(conversation_id, communication_id, text)
            self.own_messages.add(sent["id"])
            return sent

        world.send_message = send_message  # type: ignore[method-assign]
        wrapup = world.apply_wrapup

        def apply_wrapup(*args: Any) -> None:
            wrapup(*args)
            self.wrapups += 1

        world.apply_wrapup = apply_wrapup  # type: ignore[method-assign]
        return self

    def _wrap(self, operation: Callable[..., Any], kind: str) -> Callable[..., Any]:
        def wrapped(conversation_id: str, *args: Any) -> Any:
            conv = self.world.conversations.get(conversation_id)
            record = self.judge(conv, kind) if conv is not None else None
            result = operation(conversation_id, *args)
            if record is not None:
                record.ok = True
                self.closes.append(record)
            return result

        return wrapped

    def judge(self, conv: Conversation, kind: str) -> Close:
        now = self.world.clock.now()
        t = self.thresholds
        legs = conv.legs
        active = {leg.purpose for leg in legs if leg.active}
        messages = [
            (leg.purpose, w.at) for leg in legs for w in leg.messages if w.id not in self.own_messages
        ]
        last_any = max((at for _, at in messages), default=None)
        last_person = max((at for purpose, at in messages if purpose in PEOPLE), default=None)
        customer_end = max((leg.end for leg in legs if leg.purpose == "customer" and leg.end), default=None)
        since: datetime | None = last_any or conv.start
        if "customer" in active and "agent" in active:
            situation, threshold = "idle", t.idle
        elif "agent" in active:
            situation, threshold = "customer-left", t.customer_left
            since = max(x for x in (last_any, customer_end, conv.start) if x is not None)
        elif "customer" in active and "acd" in active:
            situation, threshold = "queue-abandoned", t.queue_abandoned
        elif "customer" in active and active & set(FLOWS):
            situation, threshold = "flow-stuck", t.flow_stuck
        else:
            situation, threshold = "orphaned", t.orphaned
            ends = [leg.end for leg in legs if leg.end is not None]
            since = max(x for x in (last_any, max(ends, default=None), conv.start) if x is not None)
        exempt = any(leg.attributes.get(EXEMPT_ATTRIBUTE, "").lower() == "true" for leg in legs)
        timer = conv.inactivity_timeout is not None and conv.inactivity_timeout > now
        return Close(now, conv.id, kind, situation, threshold, since, last_person, exempt, timer)

    def first_closes(self) -> list[Close]:
        """One record per conversation: its first successful close request."""
        seen: dict[str, Close] = {}
        for close in self.closes:
            if close.ok and close.conversation_id not in seen:
                seen[close.conversation_id] = close
        return list(seen.values())


# ------------------------------------------------------------------------------------------ misc


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "logicalCpus": os.cpu_count(),
        "memoryGiB": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def machine_line(info: dict[str, Any]) -> str:
    return (
        f"{info['cpu']}, {info['logicalCpus']} logical CPUs, {info['memoryGiB']} GiB RAM; "
        f"Linux {info['kernel']}; Python {info['python']}"
    )


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


# ----------------------------------------------------------------------------------- long chats


class LongChats:
    """Long-lived web messaging conversations, as asynchronous messaging keeps them: guest and agent
    write now and then for hours. Most end properly (the agent ends it and wraps up); some go silent
    for good and are left open. Each one that ends or falls silent is replaced by a new one, so about
    `count` are live at any time. Deterministic per seed; acts through the traffic generator's target,
    so a refused action (the chat was closed under them) is counted there and the stream goes on.
    """

    def __init__(
        self,
        target: Any,
        seed: int,
        count: int,
        now: datetime,
        *,
        mean_gap: float = 300.0,  # seconds between messages
        life: tuple[float, float] = (1800.0, 14400.0),  # uniform, seconds
        silent_share: float = 0.15,
        queues: tuple[str, ...] = ("queue-support", "queue-sales", "queue-vip"),
    ) -> None:
        import heapq
        import random
        import uuid

        self._heapq = heapq
        self.rng = random.Random(seed)
        self._uuid = uuid
        self.target = target
        self.mean_gap = mean_gap
        self.life = life
        self.silent_share = silent_share
        self.queues = queues
        self.now = now
        self.events: list[tuple[datetime, int, str, dict[str, Any]]] = []
        self._seq = 0
        self.created = 0
        self.went_silent = 0
        for _ in range(count):
            self._open(age=self.rng.uniform(0, self.life[0]))

    def _id(self) -> str:
        return str(self._uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _push(self, due: datetime, kind: str, chat: dict[str, Any]) -> None:
        self._seq += 1
        self._heapq.heappush(self.events, (due, self._seq, kind, chat))

    def _later(self, seconds: float) -> datetime:
        return self.now + timedelta(seconds=seconds)

    def _open(self, age: float = 0.0) -> None:
        chat = {"id": self._id(), "customer": self._id(), "agent": self._id(), "turn": "customer"}
        wrote = self.rng.uniform(0, min(age, self.mean_gap)) if age else 0.0
        spec = {
            "id": chat["id"],
            "messageType": "webmessaging",
            "queueId": self.rng.choice(self.queues),
            "participants": [
                {
                    "id": chat["customer"],
                    "purpose": "customer",
                    "name": "Guest",
                    "messages": [{"ago": f"{wrote:.1f}s"}],
                },
                {
                    "purpose": "acd",
                    "state": "disconnected",
                    "startedAgo": f"{age + 60:.0f}s",
                    "endedAgo": f"{age + 30:.0f}s",
                },
                {
                    "id": chat["agent"],
                    "purpose": "agent",
                    "wrapupRequired": True,
                    "messages": [{"ago": f"{wrote + 20:.1f}s"}],
                },
            ],
        }
        self.target.create(spec)
        self.created += 1
        life = self.rng.uniform(*self.life)
        if self.rng.random() < self.silent_share:
            self._push(self._later(self.rng.uniform(0, life)), "silent", chat)
        else:
            self._push(self._later(life), "end", chat)
        self._push(self._later(self.rng.expovariate(1 / self.mean_gap)), "message", chat)

    def step(self, now: datetime) -> None:
        """Play every event due by `now` (the clock has already been moved there)."""
        self.now = now
        while self.events and self.events[0][0] <= now:
            _, _, kind, chat = self._heapq.heappop(self.events)
            if chat.get("done"):
                continue
            if kind == "message":
                sender = chat["turn"]
                self.target.message(chat["id"], sender, "…")
                chat["turn"] = "agent" if sender == "customer" else "customer"
                self._push(self._later(self.rng.expovariate(1 / self.mean_gap)), "message", chat)
            elif kind == "silent":  # both stop writing, nobody ends it
                chat["done"] = True
                self.went_silent += 1
                self._open()
            elif kind == "end":
                chat["done"] = True
                self.target.leave(chat["id"], chat["agent"], "client")
                self._push(
                    self._later(self.rng.uniform(30, 240)),
                    "wrapup",
                    {"id": chat["id"], "agent": chat["agent"]},
                )
                self._open()
            elif kind == "wrapup":
                self.target.wrapup(chat["id"], chat["agent"], "code-resolved", "Resolved in chat")


class WatchedHands(GuestsAndAgents):
    """The demo's guests and agents, remembering each refused action: when, where and why."""

    def __init__(self, world: World) -> None:
        super().__init__(world)
        self.refusals: list[tuple[datetime, str, str]] = []

    def _try(self, conversation_id: str, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except PlatformError as exc:
            self.refused.add(conversation_id)
            self.refusals.append((self.world.clock.now(), conversation_id, str(exc)))
            return ""


# ------------------------------------------------------------------------------------- prototype

PROTOTYPE_NOTE = (
    "P1: the analytics record each sweep already fetches lists every participant with its segments; when "
    "it differs from the one seen at the last read (someone joined, left, began or ended after-call "
    "work), the conversation is read again within the time the fastest state-change rule needs "
    "(customer-left's 5 minutes, less one sweep interval), or at once if a silence rule could already "
    "apply — so a skip otherwise waits for its own eligible_at instead of `reread_at`'s five-minute "
    "bound from now on every healthy chat; "
    "P2: once the sweep's max_closes is used up, no further conversation is read in that sweep; "
    "P3: a skip that nothing could make eligible on its own (exempt, nothing to do) is read again "
    "after 30 minutes (or on a P1 change), not on every pass"
)


def vars_of(entry: Any) -> tuple[Any, ...]:
    """The fields of a dataclass entry, in order."""
    import dataclasses

    return tuple(getattr(entry, f.name) for f in dataclasses.fields(entry))


def prototype_read_schedule() -> None:
    """PROTOTYPE, not product code: patch the reaper in this process to measure P1-P3 (PROTOTYPE_NOTE).

    Written against the product at commit 9f44d78 (`NotBefore.due/remember`, `sweep.reread_at`,
    `discovery._summary`, `Sweep._decide_and_act_logged`); it measures a proposal, nothing more.
    """
    from session_reaper.core import rules
    from session_reaper.engine import sweep
    from session_reaper.genesys import discovery

    seen_now: dict[str, tuple[Any, ...]] = {}  # fingerprint in the latest discovery
    at_read: dict[str, tuple[Any, ...] | None] = {}  # fingerprint when last read (or last rescheduled)
    silence: dict[str, datetime] = {}  # when the silence began, at the last read
    summary = discovery._summary
    state_rules = ("customer-left", "orphaned", "acw-stuck")
    silence_rules = ("idle", "queue-abandoned", "flow-stuck")
    policy = rules.Policy()
    fastest_change = min(policy.rule(r).shortest for r in state_rules) - timedelta(minutes=1)
    fastest_silence = min(policy.rule(r).shortest for r in silence_rules)

    def fingerprint(raw: Any) -> tuple[Any, ...]:
        legs = []
        for participant in raw.get("participants") or []:
            segments = [s for x in participant.get("sessions") or [] for s in x.get("segments") or []]
            last_end = segments[-1].get("segmentEnd") if segments else None
            legs.append((participant.get("participantId"), len(segments), last_end))
        return tuple(sorted(legs, key=str))

    def patched_summary(raw: Any) -> Any:
        found = summary(raw)
        if found is not None:
            seen_now[found.conversation_id] = fingerprint(raw)
        return found

    due, remember = sweep.NotBefore.due, sweep.NotBefore.remember

    def patched_due(self: Any, conversation_id: str, now: datetime, *args: Any) -> bool:
        current = seen_now.get(conversation_id)
        if conversation_id in self.until and at_read.get(conversation_id) != current:
            at_read[conversation_id] = current
            bound = now + fastest_change
            if conversation_id in silence:
                bound = min(bound, max(now, silence[conversation_id] + fastest_silence))
            entry = self.until[conversation_id]
            if hasattr(entry, "until"):  # a ScheduledRead (later product versions)
                self.until[conversation_id] = type(entry)(min(entry.until, bound), *tuple(vars_of(entry))[1:])
            else:
                self.until[conversation_id] = min(entry, bound)
        return bool(due(self, conversation_id, now, *args))

    def patched_remember(self: Any, conversation_id: str, until: Any, *args: Any) -> None:
        at_read[conversation_id] = seen_now.get(conversation_id)
        remember(self, conversation_id, until, *args)

    def patched_reread_at(conversation: Any, now: datetime, policy: Any, verdict: Any) -> datetime | None:
        began = rules._silence_since(conversation)
        if began is not None:
            silence[conversation.id] = began
        if verdict.action in (rules.Action.SKIP, rules.Action.DEFER):
            return verdict.eligible_at if verdict.eligible_at is not None else now + timedelta(minutes=30)
        return None

    act = sweep.Sweep._decide_and_act_logged

    async def patched_act(self: Any, sweep_id: int, conversation_id: str, *args: Any) -> None:
        if self.apply and self._closes_left <= 0:
            return  # not read, nothing remembered: due again next pass
        await act(self, sweep_id, conversation_id, *args)

    discovery._summary = patched_summary  # type: ignore[assignment]
    sweep.NotBefore.due = patched_due  # type: ignore[method-assign]
    sweep.NotBefore.remember = patched_remember  # type: ignore[method-assign]
    sweep.reread_at = patched_reread_at  # type: ignore[attr-defined]
    sweep.Sweep._decide_and_act_logged = patched_act  # type: ignore[method-assign]
