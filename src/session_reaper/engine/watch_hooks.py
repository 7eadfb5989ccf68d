"""What the events mode tells its host: `serve`'s metrics and readiness, or a benchmark's counters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class WatchHooks(Protocol):
    def event(self, topic: str, lag_seconds: float | None) -> None:
        """An event was received; `lag_seconds`: its change's platform time -> handled, when it moved time."""

    def ignored(self, topic: str) -> None: ...

    def connected(self, reconnect: bool) -> None: ...

    def disconnected(self, reason: str) -> None: ...

    def fallback(self, rejected: Mapping[str, str]) -> None:
        """The queues polled instead (their topic was rejected), with the platform's reason."""

    def armed(self, timers: int) -> None: ...


class NoHooks:
    def event(self, topic: str, lag_seconds: float | None) -> None:
        pass

    def ignored(self, topic: str) -> None:
        pass

    def connected(self, reconnect: bool) -> None:
        pass

    def disconnected(self, reason: str) -> None:
        pass

    def fallback(self, rejected: Mapping[str, str]) -> None:
        pass

    def armed(self, timers: int) -> None:
        pass
