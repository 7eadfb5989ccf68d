"""The conversation state machine: timers, legs leaving, conversations ending, and change history.

Nothing runs in the background. Timers (after-call work running out, a queue's inactivity timer) sit in
a heap and are applied against the virtual clock at the start of every request, each at its own due
time, so advancing the clock and then reading shows their effect with the right timestamps.

`World` (state.py) holds the state declared here; the platform's operations (participants.py) and the
admin's actions (admin_actions.py) drive the transitions defined here.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from genesys_emulator import assumptions as A
from genesys_emulator import events, views
from genesys_emulator.clock import VirtualClock, iso
from genesys_emulator.entities import Conversation, Leg, Snapshot, new_id
from genesys_emulator.errors import not_found
from genesys_emulator.notifications import Notifications


class ConversationLifecycle:
    """How conversations and their legs change state, and the record each change leaves."""

    # assigned by World.__init__ and World._reset_conversations
    lock: threading.RLock
    clock: VirtualClock
    analytics_lag: timedelta
    propagation_delay: timedelta
    conversations: dict[str, Conversation]
    open_ids: dict[str, None]
    recently_ended: deque[tuple[datetime, str]]
    timers: list[tuple[datetime, int, str, str, str]]
    _seq: itertools.count[int]
    changes: list[str]
    analytics_indexes: dict[str, Any]
    notifications: Notifications

    @property
    def keeps_history(self) -> bool:
        return bool(self.propagation_delay or self.analytics_lag)

    def read_delay(self, conv: Conversation) -> timedelta:
        """How long this conversation's changes take to show on reads (its own, else the world's)."""
        return conv.propagation_delay if conv.propagation_delay is not None else self.propagation_delay

    def _keeps_history(self, conv: Conversation) -> bool:
        return self.keeps_history or bool(conv.propagation_delay)

    # --- timers -------------------------------------------------------------------------------------

    def tick(self) -> datetime:
        """Apply every timer due by now, each at its own due time. Returns now."""
        now = self.clock.now()
        while self.timers and self.timers[0][0] <= now:
            due, _, kind, conversation_id, leg_id = heapq.heappop(self.timers)
            conv = self.conversations.get(conversation_id)
            if conv is None:
                continue
            if kind == "acw":
                self._acw_timeout(conv, conv.leg(leg_id), due)
            elif kind == "inactivity" and conv.inactivity_timeout == due and not conv.ended:
                self._inactivity_timeout(conv, due)
        return now

    def _schedule(self, due: datetime, kind: str, conv: Conversation, leg_id: str = "") -> None:
        heapq.heappush(self.timers, (due, next(self._seq), kind, conv.id, leg_id))

    def _acw_timeout(self, conv: Conversation, leg: Leg, due: datetime) -> None:
        if not leg.in_acw or leg.wrapup_timeout_ms is None or leg.acw_start is None:
            return
        if leg.acw_start + timedelta(milliseconds=leg.wrapup_timeout_ms) != due:
            return
        self._system_wrapup(leg, due)
        self._settle(conv, due)
        self._changed(conv, due)

    def _inactivity_timeout(self, conv: Conversation, due: datetime) -> None:
        conv.inactivity_timeout = None
        if conv.inactivity_action == "SEND_TO_ARCHITECT_FLOW":
            for leg in conv.legs:
                if leg.active and leg.purpose not in A.CUSTOMER_PURPOSES:
                    self._disconnect_leg(conv, leg, A.INACTIVITY_DISCONNECT_TYPE, due)
            conv.legs.append(
                Leg(
                    id=new_id(),
                    purpose="workflow",
                    state="connected",
                    start=due,
                    connected=due,
                    communication_id=new_id(),
                    name="Inactivity flow",
                )
            )
        else:
            for leg in conv.legs:
                if leg.active:
                    self._disconnect_leg(conv, leg, A.INACTIVITY_DISCONNECT_TYPE, due)
        self._settle(conv, due)
        self._changed(conv, due)

    # --- changes --------------------------------------------------------------------------------------

    def _changed(self, conv: Conversation, at: datetime) -> None:
        conv.version += 1
        conv.cache.clear()
        self.changes.append(conv.id)
        if self.notifications.connected:  # no socket anywhere: no event to build
            self._emit(conv, at + self.read_delay(conv))
        if self._keeps_history(conv):
            conv.history.append(self._snapshot(conv, at))
            horizon = at - max(self.read_delay(conv), self.analytics_lag)
            # keep the newest snapshot already older than the horizon, and everything after it
            keep_from = 0
            for index, snap in enumerate(conv.history):
                if snap.at <= horizon:
                    keep_from = index
            del conv.history[:keep_from]

    def _emit(self, conv: Conversation, due: datetime) -> None:
        """Queue the conversation as it is now on each watched queue topic, to be sent at `due`."""
        topics = self.notifications.watched(events.queue_topics(conv))
        if topics:
            for topic, frame in events.conversation_frames(conv, topics):
                self.notifications.enqueue(due, topic, frame)

    def _snapshot(self, conv: Conversation, at: datetime) -> Snapshot:
        return Snapshot(at, views.media_bytes(conv), views.generic_bytes(conv), views.analytics_record(conv))

    def _settle(self, conv: Conversation, at: datetime) -> None:
        """After a non-customer leg left: the customer leaves with it, and the conversation may end."""
        people_left = any(leg.active for leg in conv.legs if leg.purpose not in A.CUSTOMER_PURPOSES)
        if not people_left:
            for leg in conv.legs:
                if leg.active:
                    self._end_leg(leg, A.CUSTOMER_END_DISCONNECT_TYPE, at)
        self._maybe_end(conv, at)

    def _maybe_end(self, conv: Conversation, at: datetime) -> None:
        if conv.end is not None:
            return
        if any(leg.active or leg.in_acw for leg in conv.legs):
            return
        conv.end = at
        conv.inactivity_timeout = None
        self.open_ids.pop(conv.id, None)
        if self.analytics_lag:
            self.recently_ended.append((at, conv.id))

    def _end_leg(self, leg: Leg, disconnect_type: str, at: datetime) -> None:
        leg.state = "disconnected"
        leg.disconnect_type = disconnect_type
        leg.end = at

    def _disconnect_leg(self, conv: Conversation, leg: Leg, disconnect_type: str, at: datetime) -> None:
        self._end_leg(leg, disconnect_type, at)
        if leg.purpose == "agent" and leg.wrapup_required and leg.wrapup is None:
            leg.acw_start = at
            if leg.wrapup_timeout_ms is not None:
                self._schedule(at + timedelta(milliseconds=leg.wrapup_timeout_ms), "acw", conv, leg.id)

    def _system_wrapup(self, leg: Leg, at: datetime) -> None:
        leg.wrapup = {
            "code": A.SYSTEM_WRAPUP_CODE_ID,
            "name": A.SYSTEM_WRAPUP_CODE_NAME,
            "durationSeconds": int((at - (leg.acw_start or at)).total_seconds()),
            "endTime": iso(at),
        }
        leg.acw_end = at

    def _activity(self, conv: Conversation, at: datetime) -> None:
        if conv.inactivity_seconds is not None and not conv.ended:
            conv.inactivity_timeout = at + timedelta(seconds=conv.inactivity_seconds)
            self._schedule(conv.inactivity_timeout, "inactivity", conv)

    # --- lookups --------------------------------------------------------------------------------------

    def conversation(self, conversation_id: str) -> Conversation:
        conv = self.conversations.get(conversation_id)
        if conv is None:
            raise not_found("conversation")
        return conv

    def message_conversation(self, conversation_id: str) -> Conversation:
        conv = self.conversation(conversation_id)
        if conv.media != "message":
            raise not_found("message conversation")
        return conv
