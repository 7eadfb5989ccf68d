"""Realistic traffic: the `demo` seed, and a synthetic generator driven step by step on the virtual clock.

The seed builds a few hundred conversations covering every situation of SCENARIOS.md at once. The
generator plays guests and agents over time: arrivals (some first meet a bot), queue waits, chats,
guests who go silent or leave, agents who linger, transfers, after-call work. Both are deterministic
for a given seed, and act through the admin API (or the world in-process), never through the
platform API, so the request log shows only what a client of the platform did.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from genesys_emulator.client import EmulatorAdmin
from genesys_emulator.state import World

# (id, name, inactivity timer seconds or None, action)
DEMO_QUEUES: tuple[tuple[str, str, int | None, str], ...] = (
    ("queue-support", "Support", None, "DISCONNECT"),
    ("queue-sales", "Sales", None, "DISCONNECT"),
    ("queue-billing", "Billing", 3600, "DISCONNECT"),
    ("queue-returns", "Returns", 2700, "SEND_TO_ARCHITECT_FLOW"),
    ("queue-vip", "VIP", None, "DISCONNECT"),
)
UNTIMED = ("queue-support", "queue-sales", "queue-vip")
# Queues whose after-call work is time-boxed (the platform applies its system wrap-up when it runs out).
ACW_TIMEOUT_MS = {"queue-sales": 300_000, "queue-vip": 600_000}
CHANNELS = (("webmessaging", 0.8), ("sms", 0.08), ("whatsapp", 0.08), ("open", 0.04))
GUEST_LINES = (
    "Hi, I need help with my order",
    "Is anyone there?",
    "Thanks!",
    "OK, one moment",
    "It says error 42",
)
AGENT_LINES = (
    "Hello! How can I help?",
    "Let me check that for you.",
    "Anything else?",
    "Done, you're all set.",
)


class Target(Protocol):
    """What the generator needs from the emulator, in-process or over HTTP."""

    def advance(self, seconds: float) -> None: ...
    def create(self, spec: dict[str, Any]) -> str: ...
    def message(self, conversation_id: str, sender: str, text: str) -> None: ...
    def join(self, conversation_id: str, participant: dict[str, Any]) -> str: ...
    def leave(self, conversation_id: str, participant_id: str, disconnect_type: str) -> None: ...
    def wrapup(self, conversation_id: str, participant_id: str, code: str, notes: str) -> None: ...
    def queue(self, queue_id: str, name: str, timeout: int | None, action: str) -> None: ...


class WorldTarget:
    def __init__(self, world: World) -> None:
        self.world = world

    def advance(self, seconds: float) -> None:
        with self.world.lock:
            self.world.clock.advance(seconds)
            self.world.tick()

    def create(self, spec: dict[str, Any]) -> str:
        return self.world.create_conversation(spec).id

    def message(self, conversation_id: str, sender: str, text: str) -> None:
        self.world.admin_message(conversation_id, sender, text)

    def join(self, conversation_id: str, participant: dict[str, Any]) -> str:
        return self.world.admin_join(conversation_id, participant).id

    def leave(self, conversation_id: str, participant_id: str, disconnect_type: str) -> None:
        self.world.admin_leave(conversation_id, participant_id, disconnect_type)

    def wrapup(self, conversation_id: str, participant_id: str, code: str, notes: str) -> None:
        self.world.admin_wrapup(conversation_id, participant_id, {"code": code, "notes": notes})

    def queue(self, queue_id: str, name: str, timeout: int | None, action: str) -> None:
        self.world.configure_queue(
            {"id": queue_id, "name": name, "inactivityTimeoutSeconds": timeout, "actionType": action}
        )


class AdminTarget:
    def __init__(self, admin: EmulatorAdmin) -> None:
        self.admin = admin

    def advance(self, seconds: float) -> None:
        self.admin.advance(seconds)

    def create(self, spec: dict[str, Any]) -> str:
        return str(self.admin.create_conversation(spec)["id"])

    def message(self, conversation_id: str, sender: str, text: str) -> None:
        self.admin.message(conversation_id, sender, text)

    def join(self, conversation_id: str, participant: dict[str, Any]) -> str:
        return self.admin.join(conversation_id, participant)

    def leave(self, conversation_id: str, participant_id: str, disconnect_type: str) -> None:
        self.admin.leave(conversation_id, participant_id, disconnect_type)

    def wrapup(self, conversation_id: str, participant_id: str, code: str, notes: str) -> None:
        self.admin.agent_wrapup(conversation_id, participant_id, code, notes)

    def queue(self, queue_id: str, name: str, timeout: int | None, action: str) -> None:
        self.admin.add_queue(queue_id, name, inactivityTimeoutSeconds=timeout, actionType=action)


def as_target(target: World | EmulatorAdmin | Target) -> Target:
    if isinstance(target, World):
        return WorldTarget(target)
    if isinstance(target, EmulatorAdmin):
        return AdminTarget(target)
    return target


class _Ids:
    """Ids drawn from the seeded generator, so a seed always builds the same world."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def __call__(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))


# --- the demo seed ---------------------------------------------------------------------------------------


def _m(minutes: float) -> str:
    return f"{minutes:.2f}m"


class _Seed:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.id = _Ids(self.rng)
        self.agents = [self.id() for _ in range(25)]

    def channel(self) -> str:
        return self.rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]

    def spec(
        self, participants: list[dict[str, Any]], queue: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        for participant in participants:
            participant.setdefault("id", self.id())
        return {
            "id": self.id(),
            "queueId": queue or self.rng.choice(UNTIMED),
            "participants": participants,
            **extra,
        }

    def customer(self, wrote: float, **extra: Any) -> dict[str, Any]:
        return {"purpose": "customer", "name": "Guest", "messages": [{"ago": _m(wrote)}], **extra}

    def agent(self, wrote: float | None, **extra: Any) -> dict[str, Any]:
        messages = [{"ago": _m(wrote)}] if wrote is not None else []
        return {"purpose": "agent", "userId": self.rng.choice(self.agents), "messages": messages, **extra}

    def acd(self, started: float, ended: float | None) -> dict[str, Any]:
        if ended is None:
            return {"purpose": "acd", "state": "connected", "startedAgo": _m(started)}
        return {"purpose": "acd", "state": "disconnected", "startedAgo": _m(started), "endedAgo": _m(ended)}

    def chat(
        self, silent: float, *, channel: str | None = None, queue: str | None = None, **customer: Any
    ) -> dict[str, Any]:
        """Customer and agent connected; the customer last wrote `silent` minutes ago."""
        start = silent + self.rng.uniform(2, 20)
        return self.spec(
            [
                self.customer(silent, **customer),
                self.acd(start, start - 1),
                self.agent(silent + self.rng.uniform(0.2, 1.5), wrapupRequired=self.rng.random() < 0.7),
            ],
            queue,
            messageType=channel or "webmessaging",
        )


def demo_specs(seed: int = 7) -> list[dict[str, Any]]:
    """A few hundred conversations covering every situation of SCENARIOS.md, deterministic per seed."""
    s = _Seed(seed)
    r = s.rng
    specs: list[dict[str, Any]] = []
    for _ in range(80):  # healthy: someone wrote in the last minutes
        specs.append(s.chat(r.uniform(0.2, 12), channel=s.channel()))
    for _ in range(40):  # idle: nobody wrote for a long time
        specs.append(s.chat(r.uniform(35, 240)))
    for _ in range(20):  # customer left, the agent is still attached
        silent = r.uniform(8, 60)
        spec = s.chat(silent)
        spec["participants"][0].update(
            state="disconnected", endedAgo=_m(silent - 1), disconnectType="endpoint"
        )
        specs.append(spec)
    for _ in range(20):  # waiting in queue, guest gone
        silent = r.uniform(25, 150)
        specs.append(s.spec([s.customer(silent), s.acd(silent + 0.1, None)]))
    for _ in range(15):  # still in the inbound flow or bot
        silent = r.uniform(70, 400)
        bot = {"purpose": "workflow", "name": "Inbound message flow", "messages": [{"ago": _m(silent - 0.1)}]}
        specs.append(s.spec([s.customer(silent), bot], messageType=s.channel()))
    for _ in range(10):  # zombies: every person gone, the acd leg never ended
        gone = r.uniform(20, 120)
        specs.append(
            s.spec(
                [
                    s.customer(gone + 2, state="disconnected", endedAgo=_m(gone), disconnectType="endpoint"),
                    s.acd(gone + 30, None),
                    s.agent(gone + 1, state="disconnected", endedAgo=_m(gone), disconnectType="client"),
                ]
            )
        )
    for _ in range(6):  # exempt from the reaper
        specs.append(s.chat(r.uniform(45, 200), attributes={"reaper.exempt": "true"}))
    for _ in range(15):  # the platform's own timer is running (billing: 60 min)
        specs.append(s.chat(r.uniform(10, 50), queue="queue-billing"))
    for _ in range(8):  # transferred: one agent gone, one still connected and idle
        silent = r.uniform(35, 120)
        spec = s.chat(silent)
        first = s.agent(silent + 10, state="disconnected", endedAgo=_m(silent + 5), disconnectType="transfer")
        first["id"] = s.id()
        spec["participants"].insert(2, first)
        specs.append(spec)
    for kind, count in (("stuck", 15), ("own-wrapup", 6), ("fresh", 5)):  # after-call work
        for _ in range(count):
            left = r.uniform(2, 4) if kind == "fresh" else r.uniform(12, 90)
            agent = s.agent(left + 1, state="disconnected", endedAgo=_m(left), wrapupRequired=True)
            if kind == "own-wrapup":
                agent["wrapup"] = {"code": "code-follow-up", "notes": "Customer will call back"}
            specs.append(
                s.spec(
                    [
                        s.customer(left + 2, state="disconnected", endedAgo=_m(left), disconnectType="peer"),
                        s.acd(left + 20, left + 15),
                        agent,
                    ]
                )
            )
    for channel, count in (("sms", 10), ("whatsapp", 10), ("open", 4)):  # other message channels, idle
        for _ in range(count):
            specs.append(s.chat(r.uniform(40, 200), channel=channel))
    for media, count in (("voice", 6), ("chat", 4), ("email", 4)):  # not messaging: never touched
        for _ in range(count):
            spec = s.chat(r.uniform(40, 200))
            spec.update(mediaType=media)
            spec.pop("messageType")
            specs.append(spec)
    for _ in range(40):  # history: properly ended
        done = r.uniform(5, 600)
        specs.append(
            s.spec(
                [
                    s.customer(done + 3, state="disconnected", endedAgo=_m(done), disconnectType="peer"),
                    s.acd(done + 20, done + 15),
                    s.agent(done + 1, state="disconnected", endedAgo=_m(done), disconnectType="client"),
                ],
                messageType=s.channel(),
            )
        )
    return specs


def seed_demo(target: World | EmulatorAdmin | Target, seed: int = 7) -> list[str]:
    """Fill the emulator with the demo's queues and conversations; returns the conversation ids."""
    sink = as_target(target)
    for queue_id, name, timeout, action in DEMO_QUEUES:
        sink.queue(queue_id, name, timeout, action)
    return [sink.create(spec) for spec in demo_specs(seed)]


# --- the generator ----------------------------------------------------------------------------------------

# How a chat ends, and how often.
FATES = (
    ("resolved", 0.50),  # the agent ends it, wraps up
    ("idle", 0.16),  # the guest goes silent, the agent lingers
    ("customer-left", 0.08),  # the guest ends the chat, the agent lingers
    ("acw-stuck", 0.06),  # the agent ends it and never wraps up
    ("transfer", 0.08),  # handed to another agent, then fates again
    ("zombie", 0.03),  # everyone leaves but the acd leg never ends
    ("queue-abandoned", 0.05),  # nobody ever picks it up; the guest gives up silently
    ("flow-stuck", 0.04),  # the bot hangs
)


@dataclass(slots=True)
class _Sim:
    id: str
    customer: str
    fate: str
    phase: str  # bot, queued, chatting, acw, done
    due: datetime
    exchanges: int
    queue_id: str
    acd: str | None = None
    flow: str | None = None
    agent: str | None = None
    guest_turn: bool = True


class TrafficGenerator:
    """Synthetic guests and agents. `step(virtual_seconds)` moves the clock and plays what happens.

    Deterministic for a seed (given the same starting world and clock). Works on a `World` in-process
    or on an `EmulatorAdmin` over HTTP.
    """

    def __init__(
        self,
        target: World | EmulatorAdmin | Target,
        seed: int = 0,
        arrivals_per_hour: float = 120.0,
        now: datetime | None = None,
    ) -> None:
        self.target = as_target(target)
        self.rng = random.Random(seed)
        self.id = _Ids(self.rng)
        self.arrivals_per_hour = arrivals_per_hour
        self.agents = [self.id() for _ in range(20)]
        self.now = now or _now(target)
        self.active: list[_Sim] = []
        self.created: list[str] = []
        self.queues_ready = False

    def step(self, virtual_seconds: float, tick: float = 10.0) -> list[str]:
        """Advance the clock by `virtual_seconds` in ticks; returns the ids of conversations created."""
        if not self.queues_ready:
            for queue_id, name, timeout, action in DEMO_QUEUES:
                self.target.queue(queue_id, name, timeout, action)
            self.queues_ready = True
        created: list[str] = []
        remaining = virtual_seconds
        while remaining > 1e-9:
            dt = min(tick, remaining)
            remaining -= dt
            self.target.advance(dt)
            self.now += timedelta(seconds=dt)
            for _ in range(self._poisson(self.arrivals_per_hour * dt / 3600)):
                created.append(self._arrive())
            for sim in [s for s in self.active if s.due <= self.now]:
                self._play(sim)
            self.active = [s for s in self.active if s.phase != "done"]
        self.created.extend(created)
        return created

    def _poisson(self, mean: float) -> int:
        count, threshold, product = 0, pow(2.718281828459045, -mean), self.rng.random()
        while product > threshold:
            count += 1
            product *= self.rng.random()
        return count

    def _later(self, low: float, high: float) -> datetime:
        return self.now + timedelta(seconds=self.rng.uniform(low, high))

    def _arrive(self) -> str:
        r = self.rng
        fate = r.choices([f for f, _ in FATES], [w for _, w in FATES])[0]
        channel = r.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
        queue_id = r.choice([q for q, *_ in DEMO_QUEUES])
        customer: dict[str, Any] = {
            "id": self.id(),
            "purpose": "customer",
            "name": "Guest",
            "messages": [{"ago": "0s"}],
        }
        if fate != "zombie" and r.random() < 0.03:
            customer["attributes"] = {"reaper.exempt": "true"}
        bot_first = fate == "flow-stuck" or r.random() < 0.3
        second = (
            {"id": self.id(), "purpose": "workflow", "name": "Inbound message flow"}
            if bot_first
            else {"id": self.id(), "purpose": "acd", "name": queue_id}
        )
        spec = {
            "id": self.id(),
            "messageType": channel,
            "queueId": queue_id,
            "participants": [customer, second],
        }
        cid = self.target.create(spec)
        sim = _Sim(
            cid,
            customer["id"],
            fate,
            "bot" if bot_first else "queued",
            self._later(20, 120),
            r.randint(3, 12),
            queue_id,
        )
        if bot_first:
            sim.flow = second["id"]
        else:
            sim.acd = second["id"]
        self.active.append(sim)
        return cid

    def _play(self, sim: _Sim) -> None:
        t, r = self.target, self.rng
        if sim.phase == "bot":
            if sim.fate == "flow-stuck":
                t.message(sim.id, "workflow", "Please choose an option: 1) Orders 2) Billing")
                sim.phase = "done"  # the bot never answers again; the guest has gone
                return
            sim.acd = t.join(sim.id, {"purpose": "acd", "name": sim.queue_id, "queueId": sim.queue_id})
            t.leave(sim.id, sim.flow or "", "transfer")
            sim.phase, sim.due = "queued", self._later(30, 600)
        elif sim.phase == "queued":
            if sim.fate == "queue-abandoned":
                sim.phase = "done"  # nobody picks it up, the guest closed the tab
                return
            self._route(sim)
        elif sim.phase == "chatting":
            if sim.exchanges > 0:
                sender = "customer" if sim.guest_turn else "agent"
                t.message(sim.id, sender, r.choice(GUEST_LINES if sim.guest_turn else AGENT_LINES))
                sim.guest_turn = not sim.guest_turn
                sim.exchanges -= 1
                sim.due = self._later(15, 150)
                return
            self._end(sim)
        elif sim.phase == "acw":
            t.wrapup(sim.id, sim.agent or "", "code-resolved", "Resolved in chat")
            sim.phase = "done"

    def _route(self, sim: _Sim) -> None:
        sim.agent = self.target.join(sim.id, self._agent(sim))
        if sim.fate != "zombie":  # a zombie's acd leg is the one that never ends
            self.target.leave(sim.id, sim.acd or "", "transfer")
        sim.phase, sim.due, sim.guest_turn = "chatting", self._later(5, 60), False

    def _agent(self, sim: _Sim) -> dict[str, Any]:
        agent: dict[str, Any] = {
            "purpose": "agent",
            "userId": self.rng.choice(self.agents),
            "queueId": sim.queue_id,
            "wrapupRequired": True,
        }
        if sim.queue_id in ACW_TIMEOUT_MS:
            agent["wrapupTimeoutMs"] = ACW_TIMEOUT_MS[sim.queue_id]
        return agent

    def _end(self, sim: _Sim) -> None:
        t, r = self.target, self.rng
        if sim.fate == "resolved":
            t.leave(sim.id, sim.agent or "", "client")
            sim.phase, sim.due = "acw", self._later(20, 240)
        elif sim.fate == "acw-stuck":
            t.leave(sim.id, sim.agent or "", "client")
            sim.phase = "done"
        elif sim.fate == "customer-left":
            t.leave(sim.id, sim.customer, "endpoint")
            sim.phase = "done"
        elif sim.fate == "zombie":
            t.leave(sim.id, sim.customer, "endpoint")
            t.leave(sim.id, sim.agent or "", "client")
            t.wrapup(sim.id, sim.agent or "", "code-abandoned", "")
            sim.phase = "done"
        elif sim.fate == "transfer":
            t.leave(sim.id, sim.agent or "", "transfer")
            sim.agent = t.join(sim.id, self._agent(sim))
            sim.fate = r.choice(["resolved", "idle", "customer-left"])
            sim.exchanges, sim.due, sim.guest_turn = r.randint(2, 6), self._later(10, 60), False
        else:  # idle: both stay connected, nobody writes again
            sim.phase = "done"


def _now(target: World | EmulatorAdmin | Target) -> datetime:
    if isinstance(target, World):
        return target.clock.now()
    if isinstance(target, EmulatorAdmin):
        return target.now()
    if isinstance(target, WorldTarget):
        return target.world.clock.now()
    if isinstance(target, AdminTarget):
        return target.admin.now()
    raise TypeError("pass a World, an EmulatorAdmin, or give `now`")
