"""Events mode's way back: poll while listening cannot be set up, and try the set-up again with backoff.

A refusal of the calls that set up listening (the queue list, the channel, its subscriptions) is most
often transient: a 429 burst, a 5xx storm, a timeout, a token revoked and renewed. The service must
keep reaping meanwhile (a poll pass every `[sweep] interval`) and come back to listening by itself once
the platform answers, without turning a long outage into a storm of set-ups: the waits between
attempts grow (equal jitter, so that replicas spread out) up to `RETRY_MAX`. The poll runs beside the
waits, not between them: a long pass (a backlog after a restart) must not hold listening back, so
the pass in flight is stopped as soon as a set-up worked (its conversations in flight finish).

Refused credentials or permissions before any pass exit 3, as in poll mode (a wrong configuration is
not waited out); later they are retried like any other failure, since a token can come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from typing import Protocol

from session_reaper.commands.runtime import EXIT_AUTH
from session_reaper.commands.serve.service import Service, StartupFailed, log
from session_reaper.engine.ports import PlatformError
from session_reaper.engine.watch import Watch
from session_reaper.errors import describe
from session_reaper.genesys.errors import AuthenticationFailed, PermissionMissing

RETRY_FIRST = 1.0  # seconds before the first new attempt: a burst of 429s is usually over by then
RETRY_MAX = 60.0  # the longest wait between attempts: at most one queue list a minute in an outage


class SetUpStatus(Protocol):
    """What readiness and metrics are told (listening's `_Status`)."""

    def not_set_up(self, since: float, problem: str) -> None: ...

    def set_up(self) -> None: ...


class Fallback:
    """One per `listen`: the failures so far (the backoff), and the poll task while not listening."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.failures = 0
        self._listening_since: float | None = None  # monotonic: when the last set-up worked
        self.down: tuple[float, str] | None = None  # (monotonic since, why) nothing listens
        self._polling: asyncio.Task[None] | None = None
        self._polled_enough = asyncio.Event()

    async def set_up(self, watch: Watch, status: SetUpStatus) -> bool:
        """Set `watch` up, polling meanwhile after failures. True once it is; False if the service stops."""
        service = self.service
        try:
            while not service.stopping.is_set():
                if self.down is not None:  # after a failure: readiness says so, polling, a wait
                    status.not_set_up(*self.down)
                    self._poll_meanwhile()
                    wait = round(self.backoff(), 1)
                    log.info("events mode: trying to listen again", attempt=self.failures + 1, after=wait)
                    if not await self._sleep(wait):
                        break
                try:
                    await watch.set_up()
                except Exception as exc:
                    self.failed(exc)
                    continue
                self.down = None
                status.set_up()
                if self.failures:
                    log.warning("events mode listening again", failed_attempts=self.failures)
                self._listening_since = time.monotonic()
                return True
            return False
        finally:
            await self._stop_polling()  # before the watch runs, or on the way out (exit 3, a stop)

    def failed(self, exc: BaseException) -> None:
        """Log a failure of the events mode (set-up or run) and count it: the next set-up waits."""
        if self._listening_since is not None and time.monotonic() - self._listening_since > RETRY_MAX:
            self.failures = 0  # it listened for a while: a short wait, not the backoff of a long outage
        self._listening_since = None
        problem = describe(exc)
        if isinstance(exc, AuthenticationFailed | PermissionMissing):
            if self.service.passes == 0:  # before any pass: a configuration to fix, as in poll mode
                raise StartupFailed(EXIT_AUTH, str(exc)) from None
            log.error("events mode refused by the platform: polling until it is allowed", problem=str(exc))
        elif isinstance(exc, PlatformError):  # the platform's words are enough: no traceback
            log.error("events mode failed: polling until it works again", error=problem)
        else:
            log.exception("events mode failed: polling until it works again", error=problem)
        self.failures += 1
        self.down = (self.down[0] if self.down is not None else time.monotonic(), problem)

    def backoff(self) -> float:
        step = min(RETRY_MAX, RETRY_FIRST * 2.0 ** max(0, self.failures - 1))
        return step / 2 + random.uniform(0, step / 2)

    # -- polling meanwhile ---------------------------------------------------------------------------

    def _poll_meanwhile(self) -> None:
        if self._polling is None:
            self._polled_enough.clear()
            self._polling = asyncio.get_running_loop().create_task(self._poll(), name="events-fallback")

    async def _poll(self) -> None:
        service = self.service
        interval = service.settings.sweep.interval.total_seconds()
        while not (self._polled_enough.is_set() or service.stopping.is_set()):
            started = time.monotonic()
            await service.sweep_once()
            wait = started + interval - time.monotonic()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):  # not wait_for: gh-86296
                        await self._polled_enough.wait()

    async def _stop_polling(self) -> None:
        """The pass in flight ends early (no two passes at once: the watch's first reconciliation follows)."""
        task, self._polling = self._polling, None
        if task is None:
            return
        self._polled_enough.set()
        self.service.stop_pass()
        await task

    async def _sleep(self, seconds: float) -> bool:
        """Wait, or less if the service stops; True if it did not."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):  # not wait_for: gh-86296
                await self.service.stopping.wait()
        return not self.service.stopping.is_set()
