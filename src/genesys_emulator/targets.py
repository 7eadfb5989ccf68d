"""Where realistic traffic acts: the world in-process, or the emulator's admin API over HTTP.

Either way through the admin's operations, never the platform API, so the request log shows only what
a client of the platform did.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from genesys_emulator.client import EmulatorAdmin
from genesys_emulator.state import World


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


def target_now(target: World | EmulatorAdmin | Target) -> datetime:
    if isinstance(target, World):
        return target.clock.now()
    if isinstance(target, EmulatorAdmin):
        return target.now()
    if isinstance(target, WorldTarget):
        return target.world.clock.now()
    if isinstance(target, AdminTarget):
        return target.admin.now()
    raise TypeError("pass a World, an EmulatorAdmin, or give `now`")
