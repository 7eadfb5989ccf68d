"""The `demo` seed: a few hundred conversations covering every situation of SCENARIOS.md at once.

Deterministic for a seed: ids too are drawn from the seeded generator.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from genesys_emulator.client import EmulatorAdmin
from genesys_emulator.state import World
from genesys_emulator.targets import Target, as_target

# (id, name, inactivity timer seconds or None, action)
DEMO_QUEUES: tuple[tuple[str, str, int | None, str], ...] = (
    ("queue-support", "Support", None, "DISCONNECT"),
    ("queue-sales", "Sales", None, "DISCONNECT"),
    ("queue-billing", "Billing", 3600, "DISCONNECT"),
    ("queue-returns", "Returns", 2700, "SEND_TO_ARCHITECT_FLOW"),
    ("queue-vip", "VIP", None, "DISCONNECT"),
)
UNTIMED = ("queue-support", "queue-sales", "queue-vip")
CHANNELS = (("webmessaging", 0.8), ("sms", 0.08), ("whatsapp", 0.08), ("open", 0.04))


class SeededIds:
    """Ids drawn from the seeded generator, so a seed always builds the same world."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def __call__(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))


def _m(minutes: float) -> str:
    return f"{minutes:.2f}m"


class _Seed:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.id = SeededIds(self.rng)
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


def seed_demo(
    target: World | EmulatorAdmin | Target, seed: int = 7, organization: str | None = None
) -> list[str]:
    """Fill the emulator with the demo's queues and conversations; returns the conversation ids.

    With `organization`, the conversations belong to it (seed each organization with its own seed:
    the ids are drawn from it)."""
    sink = as_target(target)
    for queue_id, name, timeout, action in DEMO_QUEUES:
        sink.queue(queue_id, name, timeout, action)
    specs = demo_specs(seed)
    if organization is not None:
        specs = [{**spec, "organization": organization} for spec in specs]
    return [sink.create(spec) for spec in specs]
