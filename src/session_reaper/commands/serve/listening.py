"""`serve` in events mode: the engine's `Watch` over the Notifications API, its metrics and readiness.

The watch listens instead of the poll loop; its reconciliation sweeps are the service's own passes
(`Service.sweep_once`: the same metrics, logs and pass records as polling), and every decision, from a
re-check or a sweep, goes through `Service._on_line`. Refused credentials or permissions when
subscribing or in the first reconciliation exit 3, as in poll mode. Any other failure of the events
machinery is logged and the service polls (one pass every `[sweep] interval`) while it tries to listen
again with backoff (`fallback`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from session_reaper.commands.runtime import EXIT_AUTH
from session_reaper.commands.serve.fallback import Fallback
from session_reaper.commands.serve.service import Service, StartupFailed
from session_reaper.config import Settings
from session_reaper.engine.ports import ALL_QUEUES
from session_reaper.engine.read_schedule import NotBefore
from session_reaper.engine.reconcile import Reconciled
from session_reaper.engine.watch import Watch
from session_reaper.genesys.events import GenesysEvents
from session_reaper.telemetry.metrics import Metrics


class _Status:
    """The events side of /metrics and /readyz."""

    def __init__(self, metrics: Metrics, events: GenesysEvents, watch: Watch, bound: float) -> None:
        self.metrics, self.events, self.watch, self.bound = metrics, events, watch, bound
        self.polling: dict[str, str] = {}
        # (monotonic since, why): listening could not be set up, every queue is polled meanwhile
        self.unset: tuple[float, str] | None = None

    # -- SetUpStatus (fallback)
    def not_set_up(self, since: float, problem: str) -> None:
        self.unset = (since, problem)
        self.fallback({ALL_QUEUES: f"events mode not set up: {problem}"})
        self.metrics.socket_up.set(0)

    def set_up(self) -> None:
        self.unset = None

    # -- WatchHooks
    def event(self, topic: str, lag_seconds: float | None) -> None:
        self.metrics.observe_event(topic, lag_seconds)

    def ignored(self, topic: str) -> None:
        self.metrics.events.labels(topic=topic or "unknown").inc()
        self.metrics.events_ignored.labels(topic=topic or "unknown").inc()

    def connected(self, reconnect: bool) -> None:
        if reconnect:
            self.metrics.reconnects.inc()
        self.metrics.socket_up.set(1 if self.events.down_since is None else 0)

    def disconnected(self, reason: str) -> None:
        self.metrics.socket_up.set(0)

    def fallback(self, rejected: Mapping[str, str]) -> None:
        self.polling = dict(rejected)
        self.metrics.fallback_queues.set(len(rejected))

    def armed(self, timers: int) -> None:
        self.metrics.timers_armed.set(timers)

    # -- EventsStatus
    def _down_for(self) -> float | None:
        """How long nothing has listened: a socket down, or no channel set up yet."""
        since = self.unset[0] if self.unset is not None else self.events.down_since
        return None if since is None else time.monotonic() - since

    def check(self) -> str:
        down = self._down_for()
        if down is not None and down > self.bound and self.unset is not None:
            return f"events mode not set up for {down:.0f}s, polling meanwhile: {self.unset[1]}"[:300]
        if down is not None and down > self.bound:
            return f"notification socket down for {down:.0f}s (more than {self.bound:.0f}s)"
        if self.watch.refused is not None:
            return str(self.watch.refused)[:300]
        return "ok"

    def _state(self) -> str:
        return "down" if self.unset is None else "not set up"

    def details(self) -> dict[str, object]:
        down = self._down_for()
        return {
            "socket": "connected" if down is None else f"{self._state()} for {down:.0f}s",
            "channels": self.events.channel_ids,
            "polling": self.polling,  # queue id -> why the platform rejected its topic
            "conversations": len(self.watch.picture),
            "timers": self.watch.picture.armed,
        }


async def listen(service: Service) -> None:
    """Listen until the service stops; poll meanwhile whenever listening fails (`fallback`)."""
    runtime, settings = service.runtime, service.settings
    fallback = Fallback(service)
    while not service.stopping.is_set():
        events = GenesysEvents(
            runtime.api,
            heartbeat_timeout=settings.events.heartbeat_timeout.total_seconds(),
            clock_sync=settings.events.clock_sync.total_seconds(),
        )
        watch = Watch(
            runtime.platform,
            runtime.ledger,
            events,
            settings,
            apply=service.apply,
            not_before=service.not_before,
            on_line=service._on_line,
            on_reconciled=service.live.update,
        )
        watch.run_sweep = _Passes(service, watch).run
        # events mode is refused with [orgs] (config), so these are the one organization's metrics
        assert isinstance(service.metrics, Metrics)
        status = _Status(service.metrics, events, watch, settings.events.ready_after_down.total_seconds())
        watch.hooks = status
        service.events = status
        service.stoppers.append(watch.stop)
        try:
            if not await fallback.set_up(watch, status):
                return
            await watch.run()
        except StartupFailed:
            raise
        except Exception as exc:  # the next watch is set up after the backoff, polling meanwhile
            fallback.failed(exc)
        finally:
            service.stoppers.remove(watch.stop)


class _Passes:
    """The watch's reconciliation sweeps as the service's own passes, sharing the watch's own texts."""

    def __init__(self, service: Service, watch: Watch) -> None:
        self.service, self.watch = service, watch

    async def run(
        self, settings: Settings, not_before: NotBefore, seen: Callable[[Reconciled], None]
    ) -> object:
        service = self.service
        record = await service.sweep_once(settings, not_before, seen, own=self.watch.engine.own)
        if service.passes == 1 and record.outcome == "aborted":
            raise StartupFailed(EXIT_AUTH, record.problem or "the platform refused the first sweep")
        return record
