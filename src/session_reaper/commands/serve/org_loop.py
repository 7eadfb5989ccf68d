"""One organization's sweep loop inside `serve`: its own runtime, its own task, its own failures.

Each organization a replica holds runs here, apart from the others: its own platform client (token,
pacer and rate budget, retries), its own `Service` (schedule, read schedule, passes), its own view of
the ledger (rows carry the org) and of the metrics (the `org` label), in its own asyncio task whose
log lines carry `org`. Bad credentials, a missing permission or an outage of this org's platform make
this loop report and try again later — they never reach another organization's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from structlog.contextvars import bound_contextvars

from session_reaper.commands.runtime import Runtime
from session_reaper.commands.serve.service import Service, StartupFailed, log
from session_reaper.config import Settings
from session_reaper.errors import describe
from session_reaper.ledger import Ledger
from session_reaper.telemetry.metrics import OrgMetrics

RETRY_MAX_SECONDS = 300.0  # the longest an org that cannot start waits before it tries again

# Opens one organization's runtime over the shared ledger, counting its responses in `metrics`.
RuntimeOpener = Callable[[Ledger, OrgMetrics], AbstractAsyncContextManager[Runtime]]


class OrgLoop:
    """Sweeps one organization until stopped; what /readyz and the logs say about it."""

    def __init__(
        self,
        name: str,
        settings: Settings,
        open_runtime: RuntimeOpener,
        ledger: Ledger,
        metrics: OrgMetrics,
        *,
        apply: bool,
    ) -> None:
        self.name = name
        self.settings = settings
        self._open_runtime = open_runtime
        self.ledger = ledger  # the process's: the runtime opens this org's view of it
        self.metrics = metrics
        self.apply = apply
        self.service: Service | None = None
        self.problem: str | None = "starting"
        self.stopping = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.metrics.held(True)
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"org:{self.name}")

    def stop(self) -> None:
        """Start no new conversation; the steps in flight finish. Safe to call more than once."""
        self.stopping.set()
        if self.service is not None:
            self.service.stop()

    async def finish(self, grace: float) -> bool:
        """Stop and wait up to `grace` seconds for the steps in flight; True when they all finished."""
        self.stop()
        task = self.task
        try:
            if task is None:
                return True
            done, _ = await asyncio.wait({task}, timeout=grace)
            if task in done:
                return True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return False
        finally:
            self.metrics.held(False)

    async def readiness(self) -> str:
        """ "ok", or this organization's problem in one line."""
        if self.problem is not None:
            return self.problem
        service = self.service
        if service is None:
            return "starting"
        checks = await service.readiness()
        problems = [f"{name}: {value}" for name, value in checks.items() if value != "ok"]
        last = service.last
        if last is not None and last.outcome == "error":  # its platform failing: an outage, a 5xx storm
            problems.append(f"last pass: {last.problem or 'failed'}")
        return "; ".join(problems) if problems else "ok"

    async def _run(self) -> None:
        with bound_contextvars(org=self.name):
            failures = 0
            while not self.stopping.is_set():
                try:
                    async with self._runtime() as runtime:
                        self.service = Service(runtime, self.metrics, apply=self.apply)
                        if self.stopping.is_set():
                            self.service.stop()
                        self.problem = None
                        failures = 0
                        await self.service.run()
                    return
                except StartupFailed as exc:  # the first pass was refused (credentials, permission)
                    self.problem = str(exc)
                except Exception as exc:  # the token refused, the platform down: this org only
                    self.problem = describe(exc)
                finally:
                    self.service = None
                failures += 1
                wait = min(RETRY_MAX_SECONDS, self.settings.sweep.interval.total_seconds() * 2**failures)
                log.error("organization cannot be swept", problem=self.problem, retry_in=wait)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):  # not wait_for: gh-86296
                        await self.stopping.wait()

    @contextlib.asynccontextmanager
    async def _runtime(self) -> AsyncIterator[Runtime]:
        async with self._open_runtime(self.ledger, self.metrics) as runtime:
            yield runtime
