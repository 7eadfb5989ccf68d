"""The world: conversations and their state machine, queues, and the lazily processed timers.

Nothing runs in the background. Timers (after-call work running out, a queue's inactivity timer) sit in
a heap and are applied against the virtual clock at the start of every request, each at its own due
time, so advancing the clock and then reading shows their effect with the right timestamps.

Reads may lag writes (`propagation_delay`) and analytics may lag both (`analytics_lag`): when either
is set, every change records a rendered snapshot and readers pick the newest one old enough.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from genesys_emulator import assumptions as A
from genesys_emulator import views
from genesys_emulator.auth import Registry
from genesys_emulator.build import build_conversation, build_leg
from genesys_emulator.clock import VirtualClock, iso
from genesys_emulator.entities import EPOCH, Conversation, Leg, Queue, Snapshot, Written, new_id
from genesys_emulator.errors import PlatformError, bad_request, not_found
from genesys_emulator.faults import FaultBook
from genesys_emulator.spec import (
    DISCONNECT_TYPES,
    ENDED_STATES,
    NOT_YET_CONNECTED,
    STATE_CHANGES,
    ConversationSpec,
    ParticipantSpec,
    QueueSpec,
    explain,
)

__all__ = ["EPOCH", "Conversation", "Leg", "Queue", "Snapshot", "World", "Written", "new_id"]


class World:
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
            self.requests.clear()
            self.epoch += 1

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
        if self._keeps_history(conv):
            conv.history.append(self._snapshot(conv, at))
            horizon = at - max(self.read_delay(conv), self.analytics_lag)
            # keep the newest snapshot already older than the horizon, and everything after it
            keep_from = 0
            for index, snap in enumerate(conv.history):
                if snap.at <= horizon:
                    keep_from = index
            del conv.history[:keep_from]

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
            return conv

    # --- the platform's operations ----------------------------------------------------------------------

    def disconnect_participant(self, conversation_id: str, participant_id: str) -> None:
        now = self.tick()
        conv = self.message_conversation(conversation_id)
        leg = conv.leg(participant_id)
        if not leg.active:
            raise PlatformError(
                A.NOT_CONNECTED_STATUS,
                A.NOT_CONNECTED_CODE,
                f"Participant {participant_id} is not connected (state {leg.state}).",
                {"participantId": participant_id},
            )
        self._disconnect_leg(conv, leg, A.API_DISCONNECT_TYPE, now)
        if leg.purpose not in A.CUSTOMER_PURPOSES:
            self._settle(conv, now)
        else:
            self._maybe_end(conv, now)
        self._changed(conv, now)

    def disconnect_conversation(self, conversation_id: str) -> Conversation:
        now = self.tick()
        conv = self.message_conversation(conversation_id)
        active = [leg for leg in conv.legs if leg.active]
        if not active:
            raise PlatformError(
                A.NOT_CONNECTED_STATUS,
                A.NOT_CONNECTED_CODE,
                "No participant of this conversation is connected.",
            )
        for leg in active:
            if leg.purpose not in A.CUSTOMER_PURPOSES:
                self._disconnect_leg(conv, leg, A.API_DISCONNECT_TYPE, now)
        self._settle(conv, now)
        self._changed(conv, now)
        return conv

    def teardown(self, conversation_id: str) -> None:
        now = self.tick()
        conv = self.conversation(conversation_id)
        for leg in conv.legs:
            if leg.active:
                self._disconnect_leg(conv, leg, A.TEARDOWN_DISCONNECT_TYPE, now)
            if leg.in_acw:
                self._system_wrapup(leg, now)
        self._maybe_end(conv, now)
        self._changed(conv, now)

    def set_attributes(
        self, conversation_id: str, participant_id: str, attributes: dict[str, str]
    ) -> dict[str, str]:
        now = self.tick()
        conv = self.message_conversation(conversation_id)
        leg = conv.leg(participant_id)
        leg.attributes.update(attributes)
        self._changed(conv, now)
        return dict(leg.attributes)

    def apply_wrapup(
        self, conversation_id: str, participant_id: str, communication_id: str, body: dict[str, Any]
    ) -> None:
        now = self.tick()
        conv = self.message_conversation(conversation_id)
        leg = conv.leg(participant_id)
        if leg.communication_id != communication_id:
            raise not_found("communication")
        self._wrapup(conv, leg, body, now)

    def _wrapup(self, conv: Conversation, leg: Leg, body: dict[str, Any], now: datetime) -> None:
        code = body.get("code")
        if not isinstance(code, str) or not code:
            raise bad_request("A wrap-up needs a 'code' (a wrap-up code id).")
        if leg.wrapup is not None:
            raise PlatformError(
                A.WRAPUP_ALREADY_APPLIED_STATUS,
                A.WRAPUP_ALREADY_APPLIED_CODE,
                f"Participant {leg.id} already has a wrap-up.",
                {"participantId": leg.id},
            )
        notes = body.get("notes")
        leg.wrapup = {
            "code": code,
            "name": body.get("name") or _code_name(code),
            "notes": notes if isinstance(notes, str) else None,
            "tags": body.get("tags") if isinstance(body.get("tags"), list) else None,
            "durationSeconds": int((now - (leg.acw_start or now)).total_seconds()) if leg.acw_start else None,
            "endTime": iso(now),
        }
        if leg.in_acw:
            leg.acw_end = now
        self._maybe_end(conv, now)
        self._changed(conv, now)

    def patch_participant(self, conversation_id: str, participant_id: str, body: dict[str, Any]) -> None:
        """`MediaParticipantRequest`: a state change and/or a wrap-up."""
        wrapup = body.get("wrapup")
        state = body.get("state")
        if wrapup is None and state is None:
            raise bad_request("Nothing to update: give 'state' and/or 'wrapup'.")
        if state is not None and (not isinstance(state, str) or state.lower() != "disconnected"):
            raise bad_request(f"Unsupported participant state change: {state!r} (only 'disconnected').")
        if wrapup is not None:
            if not isinstance(wrapup, dict):
                raise bad_request("'wrapup' must be an object {code, notes}.")
            now = self.tick()
            conv = self.message_conversation(conversation_id)
            self._wrapup(conv, conv.leg(participant_id), wrapup, now)
        if state is not None:
            self.disconnect_participant(conversation_id, participant_id)

    def send_message(self, conversation_id: str, communication_id: str, text: str) -> dict[str, Any]:
        now = self.tick()
        conv = self.message_conversation(conversation_id)
        leg = conv.leg_by_communication(communication_id)
        if leg.state not in A.STATES_THAT_CAN_SEND:
            raise PlatformError(
                400, A.NOT_CONNECTED_SEND_CODE, f"Communication {communication_id} is not connected."
            )
        written = Written(new_id(), now, "sent", text)
        leg.messages.append(written)
        self._activity(conv, now)
        self._changed(conv, now)
        customer = next((c for c in conv.legs if c.purpose == "customer"), None)
        return {
            "id": written.id,
            "conversationId": conv.id,
            "fromAddress": leg.user_id or leg.id,
            "toAddress": customer.id if customer else "",
            "direction": "outbound",
            "messengerType": conv.message_type if conv.message_type in views.MESSENGER_TYPES else None,
            "textBody": text,
            "status": "sent",
            "timestamp": iso(now),
            "selfUri": f"/api/v2/conversations/messages/{conv.id}/messages/{written.id}",
        }

    def wrapup_codes(
        self, conversation_id: str, participant_id: str, any_media: bool = False
    ) -> list[dict[str, str]]:
        self.tick()
        conv = self.conversation(conversation_id) if any_media else self.message_conversation(conversation_id)
        conv.leg(participant_id)
        return [
            {"id": code, "name": name, "selfUri": f"/api/v2/routing/wrapupcodes/{code}"}
            for code, name in A.DEFAULT_WRAPUP_CODES
        ]

    # --- admin: messages --------------------------------------------------------------------------------

    def admin_message(self, conversation_id: str, sender: str, text: str | None) -> dict[str, Any]:
        """A message happens now, written by `sender` (customer, agent, workflow, acd or a participant id)."""
        with self.lock:
            now = self.tick()
            conv = self.conversation(conversation_id)
            leg = self._sender(conv, sender)
            written = Written(
                new_id(), now, "received" if leg.purpose == "customer" else "delivery-success", text
            )
            leg.messages.append(written)
            if leg.purpose == "customer" and A.GUEST_MESSAGE_RESUMES_PARKED:
                for parked in conv.legs:
                    if parked.state == "parked":
                        parked.state, parked.resume = "connected", now
            self._activity(conv, now)
            self._changed(conv, now)
            return {"id": written.id, "participantId": leg.id, "at": iso(now)}

    def admin_state(self, conversation_id: str, participant_id: str, state: str) -> None:
        """A participant's own state change: an agent accepts an offer, parks the chat, resumes it."""
        wanted = state.lower() if isinstance(state, str) else ""
        if wanted not in STATE_CHANGES:
            raise bad_request(f"state must be one of {sorted(STATE_CHANGES)}, not {state!r}")
        with self.lock:
            now = self.tick()
            conv = self.conversation(conversation_id)
            leg = conv.leg(participant_id)
            if wanted == "parked" and leg.state != "connected":
                raise bad_request(f"only a connected participant can park; {participant_id} is {leg.state}")
            if wanted == "connected" and leg.state not in (*NOT_YET_CONNECTED, "parked"):
                raise bad_request(
                    f"only an offered or parked participant can connect; {participant_id} is {leg.state}"
                )
            if wanted == "parked":
                leg.park = now
            elif leg.state == "parked":
                leg.resume = now
            else:
                leg.connected = now
            leg.state = wanted
            self._changed(conv, now)

    def admin_join(self, conversation_id: str, body: dict[str, Any]) -> Leg:
        """A participant joins now (an agent picks the conversation up, a flow takes it over)."""
        try:
            spec = ParticipantSpec.model_validate(body)
        except ValidationError as exc:
            raise bad_request(explain(exc)) from None
        if (
            spec.state in ENDED_STATES
            or spec.messages
            or spec.endedAgo
            or spec.startedAgo
            or spec.connectedAgo
        ):
            raise bad_request("a joining participant is connected (or alerting) and has not written yet")
        with self.lock:
            now = self.tick()
            conv = self.conversation(conversation_id)
            if conv.ended:
                raise bad_request(f"conversation {conversation_id} has ended")
            if spec.id and any(leg.id == spec.id for leg in conv.legs):
                raise PlatformError(409, "conflict", f"participant {spec.id} already exists")
            shell = ConversationSpec(
                participants=[spec], queueId=next((g.queue_id for g in conv.legs if g.queue_id), None)
            )
            leg = build_leg(spec, shell, now, now)
            conv.legs.append(leg)
            self._changed(conv, now)
            return leg

    def admin_leave(self, conversation_id: str, participant_id: str, disconnect_type: str) -> None:
        """A participant leaves by itself (the guest ends the chat, an acd leg hands over to an agent)."""
        if disconnect_type not in DISCONNECT_TYPES:
            raise bad_request(
                f"unknown disconnectType {disconnect_type!r}; one of {sorted(DISCONNECT_TYPES)}"
            )
        with self.lock:
            now = self.tick()
            conv = self.conversation(conversation_id)
            leg = conv.leg(participant_id)
            if not leg.active:
                raise bad_request(f"participant {participant_id} has already left")
            self._disconnect_leg(conv, leg, disconnect_type, now)
            # a hand-over (transfer) leaves the conversation to whoever joined; anything else may end it
            if leg.purpose not in A.CUSTOMER_PURPOSES and not disconnect_type.startswith("transfer"):
                self._settle(conv, now)
            else:
                self._maybe_end(conv, now)
            self._changed(conv, now)

    def admin_wrapup(self, conversation_id: str, participant_id: str, body: dict[str, Any]) -> None:
        """The agent applies a wrap-up from the desktop (as the platform API would, but not logged)."""
        with self.lock:
            now = self.tick()
            conv = self.conversation(conversation_id)
            self._wrapup(conv, conv.leg(participant_id), body, now)

    def _sender(self, conv: Conversation, sender: str) -> Leg:
        for leg in conv.legs:
            if leg.id == sender:
                if not leg.active:
                    raise bad_request(f"participant {sender} has left; it cannot write")
                return leg
        candidates = [leg for leg in conv.legs if leg.purpose == sender.lower()]
        if not candidates:
            raise bad_request(
                f"'from' must be a purpose present in the conversation or a participant id: {sender!r}"
            )
        active = [leg for leg in candidates if leg.active]
        if not active:
            raise bad_request(f"no connected {sender} participant in conversation {conv.id}")
        return active[-1]

    def admin_view(self, conv: Conversation) -> dict[str, Any]:
        """The media view plus the message texts (admin only: the platform API never echoes them)."""
        view = views.media_dict(conv)
        texts = {w.id: w.text for leg in conv.legs for w in leg.messages if w.text is not None}
        for participant in view["participants"]:
            for message in participant.get("messages", []):
                if message["messageId"] in texts:
                    message["text"] = texts[message["messageId"]]
        return view


def _code_name(code: str) -> str:
    for code_id, name in A.DEFAULT_WRAPUP_CODES:
        if code_id == code:
            return name
    return A.SYSTEM_WRAPUP_CODE_NAME if code == A.SYSTEM_WRAPUP_CODE_ID else code
