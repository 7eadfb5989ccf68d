"""Realistic traffic: the `demo` seed, and a synthetic generator driven step by step on the virtual clock.

The seed builds a few hundred conversations covering every situation of SCENARIOS.md at once. The
generator plays guests and agents over time: arrivals (some first meet a bot), queue waits, chats,
guests who go silent or leave, agents who linger, transfers, after-call work. Both are deterministic
for a given seed, and act through the admin API (or the world in-process), never through the
platform API, so the request log shows only what a client of the platform did.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from genesys_emulator.client import EmulatorAdmin
from genesys_emulator.demo_seed import CHANNELS, DEMO_QUEUES, SeededIds, demo_specs, seed_demo
from genesys_emulator.state import World
from genesys_emulator.targets import AdminTarget, Target, WorldTarget, as_target, target_now

# Where each name was first defined: importers of genesys_emulator.traffic keep working.
__all__ = [
    "ACW_TIMEOUT_MS",
    "DEMO_QUEUES",
    "AdminTarget",
    "Target",
    "TrafficGenerator",
    "WorldTarget",
    "as_target",
    "demo_specs",
    "seed_demo",
]

# Queues whose after-call work is time-boxed (the platform applies its system wrap-up when it runs out).
ACW_TIMEOUT_MS = {"queue-sales": 300_000, "queue-vip": 600_000}
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
    or on an `EmulatorAdmin` over HTTP. With `organization`, every conversation belongs to it (one
    generator per organization fills a partner's emulator).
    """

    def __init__(
        self,
        target: World | EmulatorAdmin | Target,
        seed: int = 0,
        arrivals_per_hour: float = 120.0,
        now: datetime | None = None,
        organization: str | None = None,
    ) -> None:
        self.target = as_target(target)
        self.organization = organization  # whose conversations these are; None: the default organization
        self.rng = random.Random(seed)
        self.id = SeededIds(self.rng)
        self.arrivals_per_hour = arrivals_per_hour
        self.agents = [self.id() for _ in range(20)]
        self.now = now or target_now(target)
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
        if self.organization is not None:
            spec["organization"] = self.organization
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
