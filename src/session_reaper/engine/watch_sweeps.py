"""The sweeps the events mode runs: reconciliations (start, every `reconcile_interval`, at once after a
reconnect) and the polls of queues whose topic was rejected; and (re)subscribing the queues in scope.

A base of `watch.Watch`, apart so that each module reads in one sitting; it holds no state of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from session_reaper.config import QueuesConfig, Settings
from session_reaper.core.model import DiscoveryScope
from session_reaper.core.results import DecisionLine
from session_reaper.engine.picture import Picture
from session_reaper.engine.ports import (
    ALL_QUEUES,
    EventsPort,
    JournalPort,
    PlatformError,
    PlatformPort,
    Subscriptions,
)
from session_reaper.engine.read_schedule import NotBefore
from session_reaper.engine.reconcile import Engine, Reconciled
from session_reaper.engine.sweep import Sweep
from session_reaper.engine.watch_hooks import WatchHooks
from session_reaper.engine.watch_journal import Windows
from session_reaper.telemetry import logs

_log = logs.get_logger(component="watch")
CONNECT_WAIT = 10.0  # seconds the first reconciliation waits for the socket, so that nothing falls between

# A sweep run for the watch: (settings, its read schedule, what it reconciles, fed back into the
# picture). `serve` passes one that also counts the pass in its metrics; by default a plain `Sweep`.
SweepRunner = Callable[[Settings, NotBefore, Callable[[Reconciled], None]], Awaitable[object]]


class WatchSweeps:
    platform: PlatformPort
    journal: JournalPort
    events: EventsPort
    settings: Settings
    apply: bool
    engine: Engine
    picture: Picture
    not_before: NotBefore
    hooks: WatchHooks
    subscriptions: Subscriptions | None
    run_sweep: SweepRunner
    _on_line: Callable[[DecisionLine], None] | None
    _windows: Windows
    _stopped: asyncio.Event
    _reconcile_now: asyncio.Event
    _connected: asyncio.Event
    _passes: asyncio.Lock
    _sweep: Sweep | None
    _found: set[str]
    _ended: dict[str, datetime]

    def seen(self, done: Reconciled) -> None:
        raise NotImplementedError

    async def _subscribe(self) -> None:
        """Subscribe the queues in scope (again at each reconciliation: new queues); rejected ones loudly."""
        sweep = self.settings.sweep
        scope = DiscoveryScope(sweep.channels, sweep.queues.include, sweep.queues.exclude, sweep.lookback)
        before = dict(self.subscriptions.rejected) if self.subscriptions is not None else {}
        self.subscriptions = await self.events.subscribe(scope)
        rejected = dict(self.subscriptions.rejected)
        for queue_id, reason in sorted(rejected.items()):
            if queue_id not in before:
                _log.warning(
                    "queue topic rejected: polling this queue instead", queue_id=queue_id, reason=reason
                )
        self.hooks.fallback(rejected)

    def _found_by_sweep(self, done: Reconciled) -> None:
        self._found.add(done.line.conversation_id)
        self.seen(done)

    async def _reconciliations(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CONNECT_WAIT):  # not wait_for: gh-86296
                await self._connected.wait()
        interval = self.settings.events.reconcile_interval.total_seconds()
        first = True
        while not self._stopped.is_set():
            self._reconcile_now.clear()
            if not first:
                try:
                    await self._subscribe()  # queues created since the last time
                except PlatformError as exc:  # the next reconciliation tries again; events keep flowing
                    _log.warning("new queues could not be subscribed", error=str(exc))
            first = False
            await self._windows.close()  # one window per reconciliation: fresh caps, its own journal row
            self._found = set()
            async with self._passes:
                await self.run_sweep(self.settings, self.not_before, self._found_by_sweep)
            if self._stopped.is_set():
                return
            for cid, read in list(self.not_before.until.items()):
                self.picture.remind(cid, read.until)  # not read this time (the schedule said so): a timer
            # Ended or out of scope without an event saying so (a transfer to a queue not watched)
            self.picture.prune(self._found | set(self.not_before.until))
            self._ended.clear()  # their echoes have long arrived
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):  # not wait_for: gh-86296
                    await self._reconcile_now.wait()

    async def _poll(self) -> None:
        """Queues whose topic was rejected: the poll sweep, on `[sweep] interval`, for them alone."""
        interval = self.settings.sweep.interval.total_seconds()
        schedule = NotBefore()  # its own: a pass over some queues must not forget the others' entries
        while not self._stopped.is_set():
            started = time.monotonic()
            queues = tuple(sorted(self.subscriptions.rejected)) if self.subscriptions else ()
            if queues:
                settings = self.settings
                if ALL_QUEUES not in queues:
                    sweep = settings.sweep.model_copy(update={"queues": QueuesConfig(include=queues)})
                    settings = settings.model_copy(update={"sweep": sweep})
                async with self._passes:
                    if self._stopped.is_set():
                        return
                    await self.run_sweep(settings, schedule, self.seen)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(
                    max(0.0, started + interval - time.monotonic())
                ):  # not wait_for: gh-86296
                    await self._stopped.wait()

    async def _plain_sweep(
        self, settings: Settings, not_before: NotBefore, seen: Callable[[Reconciled], None]
    ) -> object:
        sweep = Sweep(
            self.platform,
            self.journal,
            settings,
            apply=self.apply,
            not_before=not_before,
            on_line=self._on_line,
            own=self.engine.own,
            on_reconciled=seen,
        )
        self._sweep = sweep
        try:
            return await sweep.run()
        finally:
            self._sweep = None
