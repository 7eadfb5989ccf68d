"""The world: what the emulated organization holds — conversations, queues, timers — and its views.

The conversation state machine and its timers are in lifecycle.py, the platform's operations in
participants.py, the admin's actions in admin_actions.py; World inherits them all, so its API is one.

Reads may lag writes (`propagation_delay`) and analytics may lag both (`analytics_lag`): when either
is set, every change records a rendered snapshot and readers pick the newest one old enough.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from genesys_emulator import views
from genesys_emulator.admin_actions import AdminActions
from genesys_emulator.auth import Registry
from genesys_emulator.build import build_conversation
from genesys_emulator.clock import VirtualClock
from genesys_emulator.entities import EPOCH, Conversation, Leg, Queue, Snapshot, Written, new_id
from genesys_emulator.errors import PlatformError, bad_request, not_found
from genesys_emulator.faults import FaultBook
from genesys_emulator.notifications import Notifications
from genesys_emulator.spec import ConversationSpec, QueueSpec, explain

__all__ = ["EPOCH", "Conversation", "Leg", "Queue", "Snapshot", "World", "Written", "new_id"]


class World(AdminActions):
    """Everything the emulated organization holds. All access goes through `lock`."""

    def __init__(
        self,
        clock: VirtualClock | None = None,
        *,
        rate_limit: int = 300,
        analytics_lag: float = 0.0,
        propagation_delay: float = 0.0,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock or VirtualClock()
        self.analytics_lag = timedelta(seconds=analytics_lag)
        self.propagation_delay = timedelta(seconds=propagation_delay)
        self.registry = Registry(self.clock, default_rate_limit=rate_limit)
        self.faults = FaultBook()
        self.requests: deque[dict[str, Any]] = deque(maxlen=200_000)
        # Platform requests being served, and which world they started in: a reset waits for the
        # first to drain, and a request that began before a reset is never logged in the new world
        # (a test must not see another's traffic: a slow or abandoned request answered after it).
        self.in_flight = 0
        self.epoch = 0
        self.notifications = Notifications()
        self.clients_gone = 0  # requests whose client went away before their body arrived (never served)
        self._reset_conversations()

    def _reset_conversations(self) -> None:
        self.conversations: dict[str, Conversation] = {}
        self.open_ids: dict[str, None] = {}  # unended conversations, in creation order
        self.recently_ended: deque[tuple[datetime, str]] = deque()  # for analytics with a lag
        self.queues: dict[str, Queue] = {}
        self.timers: list[tuple[datetime, int, str, str, str]] = []
        self._seq = itertools.count()
        # every change, in order (a conversation id each): analytics indexes catch up from where they were
        self.changes: list[str] = []
        self.analytics_indexes: dict[str, Any] = {}  # filter set -> analytics.FilterIndex

    def reset(self) -> None:
        """Empty the world; OAuth clients and their tokens stay."""
        with self.lock:
            self._reset_conversations()
            self.faults.clear()
            self.notifications.reset()  # the sockets see their channels gone and close
            self.requests.clear()
            self.epoch += 1

    # --- views ------------------------------------------------------------------------------------------

    def visible(self, conv: Conversation, delay: timedelta, now: datetime) -> Snapshot | None:
        """The newest snapshot at least `delay` old (None: nothing that old exists yet)."""
        horizon = now - delay
        for snap in reversed(conv.history):
            if snap.at <= horizon:
                return snap
        return None

    def media_view(self, conversation_id: str) -> bytes:
        conv = self.message_conversation(conversation_id)
        if self.read_delay(conv) and conv.history:
            snap = self.visible(conv, self.read_delay(conv), self.clock.now())
            if snap is not None:
                return snap.media
        cached = conv.cache.get("media")
        if cached is None:
            cached = conv.cache["media"] = views.media_bytes(conv)
        return cached

    def generic_view(self, conversation_id: str) -> bytes:
        conv = self.conversation(conversation_id)
        if self.read_delay(conv) and conv.history:
            snap = self.visible(conv, self.read_delay(conv), self.clock.now())
            if snap is not None:
                return snap.generic
        cached = conv.cache.get("generic")
        if cached is None:
            cached = conv.cache["generic"] = views.generic_bytes(conv)
        return cached

    def analytics_view(self, conv: Conversation, now: datetime) -> views.AnalyticsRecord | None:
        if self.analytics_lag and conv.history:
            snap = self.visible(conv, self.analytics_lag, now)
            return snap.analytics if snap is not None else None
        cached = conv.cache.get("analytics")
        if cached is None:
            cached = conv.cache["analytics"] = views.analytics_record(conv)
        return cached

    # --- queues -----------------------------------------------------------------------------------------

    def queue(self, queue_id: str, create: bool = False) -> Queue:
        queue = self.queues.get(queue_id)
        if queue is None:
            if not create:
                raise not_found("queue")
            queue = self.queues[queue_id] = Queue(queue_id, queue_id, created=self.clock.now())
        return queue

    def configure_queue(self, body: dict[str, Any]) -> Queue:
        try:
            spec = QueueSpec.model_validate(body)
        except ValidationError as exc:
            raise bad_request(explain(exc)) from None
        with self.lock:
            queue = self.queue(spec.id, create=True)
            queue.name = spec.name or queue.name
            queue.inactivity_seconds = spec.inactivityTimeoutSeconds
            queue.action_type = spec.actionType
            queue.flow_id = spec.flowId
            return queue

    # --- creating (admin) ---------------------------------------------------------------------------------

    def create_conversation(self, body: dict[str, Any]) -> Conversation:
        """Build a conversation in any state from an admin spec. Raises PlatformError(400) on a bad spec."""
        try:
            spec = ConversationSpec.model_validate(body)
        except ValidationError as exc:
            raise bad_request(explain(exc)) from None
        with self.lock:
            now = self.tick()
            conv_id = spec.id or new_id()
            if conv_id in self.conversations:
                raise PlatformError(409, "conflict", f"conversation {conv_id} already exists")
            queue = self.queue(spec.queueId, create=True) if spec.queueId else None
            conv = build_conversation(conv_id, spec, now, queue)
            conv.organization = spec.organization
            self.conversations[conv_id] = conv
            for leg in conv.legs:
                if leg.in_acw and leg.wrapup_timeout_ms is not None and leg.acw_start is not None:
                    self._schedule(
                        leg.acw_start + timedelta(milliseconds=leg.wrapup_timeout_ms), "acw", conv, leg.id
                    )
            if conv.inactivity_timeout is not None:
                self._schedule(conv.inactivity_timeout, "inactivity", conv)
            if conv.end is None:
                self.open_ids[conv_id] = None
            if self._keeps_history(conv):
                snap = self._snapshot(conv, now)
                snap.at = EPOCH  # what the admin creates already existed: visible at once
                conv.history.append(snap)
            self.changes.append(conv.id)
            if self.notifications.connected:
                self._emit(conv, now)  # visible at once, as its snapshot is
            return conv
