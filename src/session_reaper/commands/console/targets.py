"""What the console works over: one organization's sweep loop, or every one this replica holds.

A `ConsoleTarget` is one organization as the console sees it — the live view its passes feed, its
policy, its runtime (platform client and its view of the ledger), the engine and owner its console
acts go through — which is what `serve`'s `Service` is. Without `[orgs]` the console has one, unnamed
(`Targets.single`) and its answers are exactly those of a single-org deployment. With `[orgs]` it has
the organizations this replica holds at the moment (their leases move between replicas), by name
(`Targets.held`): each answer names the org, and each act goes through the conversation's own org.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from session_reaper.commands.console.live import Entry, LiveView, order
from session_reaper.commands.runtime import Runtime
from session_reaper.config import Settings
from session_reaper.engine.reconcile import Engine
from session_reaper.ledger import Ledger


class ConsoleTarget(Protocol):
    """One organization's loop, as the console reads and acts on it (`Service` is one)."""

    live: LiveView
    settings: Settings
    runtime: Runtime
    console_engine: Engine
    console_owner: str

    async def read_again(self, conversation_id: str) -> None: ...


@dataclass(frozen=True)
class Targets:
    """The organizations the console works over now, by name (None: the one unnamed organization)."""

    current: Callable[[], Mapping[str | None, ConsoleTarget]]
    ledger: Callable[[], Ledger]  # the process's (every org's rows): history, pending decisions by id
    named: bool  # `[orgs]` configured: answers carry "org"

    @classmethod
    def single(cls, service: ConsoleTarget) -> Targets:
        return cls(lambda: {None: service}, lambda: service.runtime.ledger, named=False)

    @classmethod
    def held(cls, current: Callable[[], Mapping[str, ConsoleTarget]], ledger: Ledger) -> Targets:
        def now_held() -> Mapping[str | None, ConsoleTarget]:
            return {name: target for name, target in current().items()}

        return cls(now_held, lambda: ledger, named=True)

    def entries(self, org: str | None = None) -> list[tuple[str | None, ConsoleTarget, Entry]]:
        """Every conversation in scope of every org held (or of `org`), in the live view's order."""
        found = [
            (name, target, entry)
            for name, target in self.current().items()
            if org is None or name == org
            for entry in target.live.entries()
        ]
        if len(self.current()) > 1:
            found.sort(key=lambda item: order(item[2]))
        return found

    def of(self, conversation_id: str) -> tuple[str | None, ConsoleTarget] | None:
        """The org whose live view holds the conversation (without orgs: the one there is)."""
        current = self.current()
        if not self.named:
            return next(iter(current.items()), None)
        for name, target in current.items():
            if target.live.get(conversation_id) is not None:
                return name, target
        return None
