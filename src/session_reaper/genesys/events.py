"""Genesys Cloud as the engine's `EventsPort`: channels, subscriptions, sockets that come back, a fresh clock.

- One channel per 1,000 queue topics (the platform's limit), each subscribed with `PUT`.
- Each channel's socket is kept open: on any end it reconnects with jittered backoff, at once after
  `socket_closing`; a channel the platform no longer knows (404 on the check or the upgrade, close
  code 4004) is created again and resubscribed. Every open after the first is a `Connected(reconnect=True)`:
  events are never replayed, so the engine reconciles from the REST API.
- Every `clock_sync` the cheapest request there is (`HEAD` of each channel) proves the channel alive and
  feeds the platform clock from its Date header; a channel within `RENEW_MARGIN` of its expiry is
  resubscribed, which extends it by its full life.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from session_reaper.core.model import ActivityKind, DiscoveryScope
from session_reaper.engine.ports import (
    ALL_QUEUES,
    Connected,
    ConversationEvent,
    Disconnected,
    EventSignal,
    Subscriptions,
)
from session_reaper.genesys.api import GenesysApi
from session_reaper.genesys.errors import GenesysError, NotFound, PermissionMissing
from session_reaper.genesys.event_mapping import to_signal
from session_reaper.genesys.notifications import MAX_TOPICS, NotificationsApi, queue_of, queue_topic
from session_reaper.genesys.socket import Ended, Frame, listen

log = logging.getLogger("session_reaper.genesys")

CHANNEL_LIFE = timedelta(hours=24)  # a channel lives 24 h; subscribing again extends it [HELP]
RENEW_MARGIN = timedelta(hours=1)
STOP_WAIT = 5.0  # seconds the socket tasks get to end once cancelled


@dataclass
class _Channel:
    topics: tuple[str, ...]
    id: str = ""
    uri: str = ""
    expires: datetime | None = None
    gone: bool = True  # to be created (again) before connecting
    # created, but its subscribe refused: the next attempt subscribes it, not a new one (a 21st channel
    # of the client would evict its oldest: another replica's, or one of ours)
    unsubscribed: bool = False
    opened_before: bool = False
    down_since: float | None = None
    socket: Any = None  # the open connection, so that the clock task can close a channel found gone
    failures: int = 0


@dataclass
class GenesysEvents:
    api: GenesysApi
    heartbeat_timeout: float = 60.0
    clock_sync: float = 30.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    monotonic: Callable[[], float] = time.monotonic
    _channels: list[_Channel] = field(default_factory=list)
    _notifications: NotificationsApi = field(init=False)
    _permitted: frozenset[str] = frozenset()
    _rejected: dict[str, str] = field(default_factory=dict)  # queue id -> why the platform rejected it
    _listening: Callable[[_Channel], None] | None = None  # while signals() runs: opens a new channel
    _opening: _Channel | None = None  # a new channel whose set-up failed: tried again by the next subscribe

    def __post_init__(self) -> None:
        self._notifications = NotificationsApi(self.api)

    # -- EventsPort -----------------------------------------------------------------------------------

    async def subscribe(self, scope: DiscoveryScope) -> Subscriptions:
        """List the queues in scope and subscribe their topics, 1,000 a channel.

        Called again (each reconciliation), it subscribes the queues created since: added (`POST`) to a
        channel with room, else to a new channel, whose socket opens at once when listening.
        """
        try:
            queues = await self._queues(scope)
        except PermissionMissing as exc:  # no queue list, no topics: every queue is polled instead
            if not self._channels:
                return Subscriptions(frozenset(), {ALL_QUEUES: f"the queues cannot be listed: {exc}"}, 0)
            queues = sorted(self._permitted | set(self._rejected))  # keep what was subscribed
        known = {topic for channel in self._channels for topic in channel.topics}
        new = [queue_topic(q) for q in queues if queue_topic(q) not in known]
        rejected: dict[str, str] = {}
        for channel in self._channels:
            room = MAX_TOPICS - len(channel.topics)
            if new and room > 0 and not channel.gone:
                batch, new = new[:room], new[room:]
                subscribed = await self._notifications.subscribe(channel.id, batch, replace=False)
                channel.topics += tuple(batch)
                channel.expires = self.api.clock.now() + CHANNEL_LIFE
                rejected.update(subscribed.rejected)
        for start in range(0, len(new), MAX_TOPICS):
            topics = tuple(new[start : start + MAX_TOPICS])
            channel = self._opening or _Channel(topics, down_since=self.monotonic())
            channel.topics = topics
            self._opening = channel
            rejected.update(await self._open(channel))
            self._opening = None
            self._channels.append(channel)
            if self._listening is not None:
                self._listening(channel)
        self._rejected.update({queue_of(t) or t: reason for t, reason in rejected.items()})
        self._permitted = frozenset(queues) - set(self._rejected)
        return Subscriptions(self._permitted, dict(self._rejected), len(self._channels))

    async def signals(self, own: Callable[[str], Mapping[str, ActivityKind]]) -> AsyncIterator[EventSignal]:
        queue: asyncio.Queue[EventSignal | BaseException] = asyncio.Queue()
        tasks: list[asyncio.Task[None]] = []

        def died(task: asyncio.Task[None]) -> None:  # a bug must not leave a channel silently closed
            if not task.cancelled() and task.exception() is not None:
                queue.put_nowait(task.exception() or RuntimeError("a notification task ended"))

        def start(channel: _Channel | None) -> None:
            work = self._keep_open(channel, queue, own) if channel is not None else self._keep_fresh()
            task = asyncio.create_task(work)
            task.add_done_callback(died)
            tasks.append(task)

        for channel in [*self._channels, None]:
            start(channel)
        self._listening = start
        try:
            while True:
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._listening = None
            for task in tasks:
                task.cancel()
            if tasks:  # bounded: a task that does not end on its cancel must not hang the caller's stop
                _, stuck = await asyncio.wait(tasks, timeout=STOP_WAIT)
                if stuck:
                    log.warning("%d notification tasks did not stop in time", len(stuck))

    @property
    def down_since(self) -> float | None:
        downs = [c.down_since for c in self._channels if c.down_since is not None]
        return min(downs) if downs else None

    @property
    def channel_ids(self) -> list[str]:
        return [c.id for c in self._channels if c.id]

    async def aclose(self) -> None:
        for channel in self._channels:
            await _close(channel.socket)

    # -- channels -------------------------------------------------------------------------------------

    async def _queues(self, scope: DiscoveryScope) -> list[str]:
        exclude = set(scope.queue_exclude)
        if scope.queue_include:
            return sorted(set(scope.queue_include) - exclude)
        listed = [str(q.get("id")) async for q in self.api.list_queues() if q.get("id")]
        return sorted(set(listed) - exclude)

    async def _open(self, channel: _Channel) -> dict[str, str]:
        """Create the channel and subscribe its topics; the topics rejected, with why."""
        if not channel.unsubscribed:
            created = await self._notifications.create_channel()
            channel.id, channel.uri, channel.unsubscribed = created.id, created.connect_uri, True
        try:
            subscribed = await self._notifications.subscribe(channel.id, channel.topics)
        except NotFound:  # the unsubscribed channel expired or was evicted meanwhile: a new one next time
            channel.unsubscribed = False
            raise
        channel.unsubscribed = False
        channel.expires = self.api.clock.now() + CHANNEL_LIFE
        channel.gone = False
        return subscribed.rejected

    async def _keep_open(
        self,
        channel: _Channel,
        queue: asyncio.Queue[EventSignal | BaseException],
        own: Callable[[str], Mapping[str, ActivityKind]],
    ) -> None:
        def opened(socket: Any) -> None:
            channel.socket, channel.down_since, channel.failures = socket, None, 0
            queue.put_nowait(Connected(channel.id, reconnect=channel.opened_before))
            channel.opened_before = True

        def frame(raw: Frame) -> None:
            signal = to_signal(raw, own)
            if isinstance(signal, ConversationEvent) and signal.changed_at is not None:
                self.api.clock.at_least(signal.changed_at)  # the change happened on the platform's clock
            queue.put_nowait(signal)

        while True:
            if channel.gone:
                try:
                    await self._open(channel)
                except GenesysError as exc:
                    channel.failures += 1
                    log.warning("notification channel cannot be created: %s", exc)
                    await asyncio.sleep(self._backoff(channel.failures))
                    continue
            ended = await listen(
                channel.uri, heartbeat_timeout=self.heartbeat_timeout, on_open=opened, on_frame=frame
            )
            channel.socket = None
            if channel.down_since is None:
                channel.down_since = self.monotonic()
            if ended.opened:
                queue.put_nowait(Disconnected(channel.id, ended.reason))
            log.warning("notification socket ended: %s", ended.reason)
            await self._after(channel, ended)

    async def _after(self, channel: _Channel, ended: Ended) -> None:
        if ended.gone:
            channel.gone = True
        if ended.closing:
            return  # "reconnect now": the platform closes this one in about a minute
        channel.failures += 1
        if ended.opened and not ended.gone:
            channel.failures = 1  # it worked until now: a short wait, not the backoff of a long outage
        await asyncio.sleep(self._backoff(channel.failures))

    def _backoff(self, failures: int) -> float:
        """Equal jitter: half the exponential step fixed, half random, so that replicas spread out."""
        step = min(self.backoff_cap, self.backoff_base * 2.0 ** max(0, failures - 1))
        return step / 2 + random.uniform(0, step / 2)

    # -- the clock and renewal ---------------------------------------------------------------------------

    async def _keep_fresh(self) -> None:
        while True:
            await asyncio.sleep(self.clock_sync)
            for channel in list(self._channels):
                if channel.gone or not channel.id:
                    continue
                try:
                    await self._check(channel)
                except GenesysError as exc:  # the next round tries again; the socket says the rest
                    log.warning("notification channel check failed: %s", exc)

    async def _check(self, channel: _Channel) -> None:
        if not await self._notifications.channel_exists(channel.id):
            log.warning("notification channel %s is gone: creating another", channel.id)
            channel.gone = True
            await _close(channel.socket)  # the socket loop reconnects, to a new channel
            return
        now = self.api.clock.now()
        if channel.expires is not None and now >= channel.expires - RENEW_MARGIN:
            await self._notifications.subscribe(channel.id, channel.topics)
            channel.expires = self.api.clock.now() + CHANNEL_LIFE
            log.info("notification channel %s renewed until %s", channel.id, channel.expires.isoformat())


async def _close(socket: Any) -> None:
    if socket is not None:
        # `timeout`, not `wait_for`, which may lose a cancel arriving as the close completes (socket.listen)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):
                await socket.close()
