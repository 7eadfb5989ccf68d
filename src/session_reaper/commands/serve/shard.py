"""`serve` with organizations: replicas on one ledger divide the orgs with leases, one loop per org.

Every `tick` (a third of the lease period) a replica beats its heart (`replicas`), renews the org
leases it holds, and claims free ones up to its fair share — the orgs divided by the replicas alive,
rounded up — so that two replicas split three orgs two and one. A replica over its share (one more
came up) hands the extra org over: its loop finishes the steps in flight, then the lease is released
and the next claimant takes it. A renewal that fails (the lease ran out and another replica took it)
stops that org's loop at once. A replica that dies stops renewing: its orgs are free once the lease
period has run out, and at once when it is found dead on this host (its process is gone), as
conversation leases are. On SIGTERM every loop finishes and every lease is released.

Org leases count real time (the machine's UTC clock), not the platform's: they say whether a replica
is alive, and the orgs may be on platforms (regions) whose clocks differ. Replicas' clocks must agree
within a small part of the lease period (NTP). Two loops on one org (a replica paused past its lease)
still never act twice on a conversation: conversation leases and the journal see to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from session_reaper.commands.serve.org_loop import OrgLoop, RuntimeOpener
from session_reaper.commands.serve.service import log
from session_reaper.config import Settings
from session_reaper.engine.leasing import holder_is_dead, new_owner
from session_reaper.engine.off_loop import journalled
from session_reaper.ledger import Ledger
from session_reaper.telemetry.metrics import Metrics

DEFAULT_ORG_LEASE = timedelta(seconds=30)
Clock = Callable[[], datetime]


def _machine_clock() -> datetime:
    return datetime.now(UTC)


class OrgSpec:
    """What the shard needs of one configured organization: its name, policy and runtime opener."""

    def __init__(self, name: str, settings: Settings, open_runtime: RuntimeOpener) -> None:
        self.name = name
        self.settings = settings
        self.open_runtime = open_runtime


class Shard:
    """This replica's part of the organizations: the leases it holds and the loop of each."""

    def __init__(
        self,
        orgs: Sequence[OrgSpec],
        ledger: Ledger,
        metrics: Metrics,
        *,
        apply: bool,
        lease: timedelta = DEFAULT_ORG_LEASE,
        owner: str | None = None,
        clock: Clock = _machine_clock,
    ) -> None:
        self.orgs = {org.name: org for org in orgs}
        self.ledger = ledger
        self.leases = ledger.org_leases
        self.metrics = metrics
        self.apply = apply
        self.lease = lease
        self.owner = owner or new_owner()
        self.clock = clock
        self.loops: dict[str, OrgLoop] = {}
        self.handing_over: dict[str, asyncio.Task[None]] = {}
        self.replicas: list[str] = []
        self.stopping = asyncio.Event()
        self.ticks = 0
        self.ledger_problem: str | None = None

    @property
    def tick_seconds(self) -> float:
        return self.lease.total_seconds() / 3

    async def run(self) -> None:
        """Hold and sweep this replica's share until asked to stop."""
        while not self.stopping.is_set():
            try:
                await self.tick()
                self.ledger_problem = None
            except Exception as exc:  # the ledger unreachable: keep what runs, try again next tick
                self.ledger_problem = f"org leases: {type(exc).__name__}: {exc}"
                log.warning("org leases could not be renewed", problem=self.ledger_problem)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.tick_seconds):  # not wait_for: gh-86296
                    await self.stopping.wait()

    async def tick(self) -> None:
        now = self.clock()
        self.ticks += 1
        alive = await journalled(self.leases.heartbeat, self.owner, ttl=self.lease, now=now)
        for gone in [r for r in alive if r != self.owner and holder_is_dead(r)]:
            await journalled(self.leases.forget, gone)  # killed on this host: no longer sharing
            alive.remove(gone)
        self.replicas = alive
        for name in list(self.loops):
            ended = self.loops[name].task
            if ended is not None and ended.done() and not self.stopping.is_set():
                # a loop ends only when stopped; one that ended by itself (a bug) is started again
                log.error("organization loop ended by itself: starting it again", org=name)
                self.loops.pop(name)
                self._start(name)
            renewed = await journalled(self.leases.renew, name, self.owner, ttl=self.lease, now=now)
            if not renewed:
                log.warning("organization lost: another replica holds it now", org=name)
                loop = self.loops.pop(name)
                loop.stop()
                self.handing_over[name] = asyncio.create_task(self._wind_down(loop, release=False))
        if self.ticks == 1 and len(self.orgs) > 1:
            return  # the first beat only says we are here: replicas starting together then share
        share = math.ceil(len(self.orgs) / max(1, len(self.replicas)))
        for name in sorted(self.loops)[share:]:  # over our share: hand the last ones over
            log.info("handing organization over", org=name, share=share, replicas=len(self.replicas))
            loop = self.loops.pop(name)
            self.handing_over[name] = asyncio.create_task(self._wind_down(loop, release=True))
        if len(self.loops) >= share:
            return
        holders = await journalled(self.leases.holders)
        for name in sorted(self.orgs):
            if len(self.loops) >= share:
                break
            if name in self.loops or name in self.handing_over:
                continue
            if self.stopping.is_set():
                return
            if await self._take(name, holders.get(name), now):
                if self.stopping.is_set():  # stopped while claiming: give it straight back
                    await journalled(self.leases.release, name, self.owner)
                    return
                self._start(name)

    async def _take(self, name: str, held: tuple[str, datetime] | None, now: datetime) -> bool:
        if held is not None and held[0] != self.owner and held[1] >= now:
            previous = held[0]
            if not holder_is_dead(previous):
                return False
            log.info("taking over an organization from a replica that died", org=name, previous=previous)
            await journalled(self.leases.forget, previous)
            return await journalled(
                self.leases.take_over, name, self.owner, previous, ttl=self.lease, now=now
            )
        return await journalled(self.leases.claim, name, self.owner, ttl=self.lease, now=now)

    def _start(self, name: str) -> None:
        org = self.orgs[name]
        loop = OrgLoop(
            name, org.settings, org.open_runtime, self.ledger, self.metrics.for_org(name), apply=self.apply
        )
        self.loops[name] = loop
        log.info("organization claimed", org=name, replicas=len(self.replicas))
        loop.start()

    async def _wind_down(self, loop: OrgLoop, *, release: bool, grace: float | None = None) -> None:
        """Let the org's steps in flight finish, then (if still ours) give its lease back."""
        try:
            await loop.finish(grace if grace is not None else self.lease.total_seconds())
            if release:
                await journalled(self.leases.release, loop.name, self.owner)
        finally:
            self.handing_over.pop(loop.name, None)

    def stop(self) -> None:
        """Stop every loop from starting conversations; `drain` then waits and releases."""
        self.stopping.set()
        for loop in self.loops.values():
            loop.stop()

    async def drain(self, grace: float) -> bool:
        """Finish every loop within `grace`, release its lease and leave; True when nothing was cut short."""
        self.stop()
        loops, self.loops = list(self.loops.values()), {}
        finished = await asyncio.gather(*(loop.finish(grace) for loop in loops))
        await asyncio.gather(*self.handing_over.values(), return_exceptions=True)
        for loop in loops:
            with contextlib.suppress(Exception):  # the lease then runs out by itself
                await journalled(self.leases.release, loop.name, self.owner)
        with contextlib.suppress(Exception):
            await journalled(self.leases.forget, self.owner)
        return all(finished)

    async def readiness(self) -> dict[str, str]:
        """Each org's state: "ok", its problem, or who else sweeps it."""
        detail: dict[str, str] = {}
        holders: dict[str, tuple[str, datetime]] = {}
        with contextlib.suppress(Exception):
            holders = await journalled(self.leases.holders)
        for name in sorted(self.orgs):
            loop = self.loops.get(name)
            if loop is not None:
                detail[name] = await loop.readiness()
            elif name in self.handing_over:
                detail[name] = "handing over"
            elif name in holders and holders[name][0] != self.owner:
                detail[name] = "swept by another replica"
            else:
                detail[name] = "not held"
        return detail
