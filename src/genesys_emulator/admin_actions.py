"""The admin's actions: what customers, agents and flows do in a conversation (tests script them).

Not the platform API: they are how a test makes the world move (a customer writes, an agent parks the
chat, a flow takes over), and they are never logged as platform requests.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from genesys_emulator import assumptions as A
from genesys_emulator import views
from genesys_emulator.build import build_leg
from genesys_emulator.clock import iso
from genesys_emulator.entities import Conversation, Leg, Written, new_id
from genesys_emulator.errors import PlatformError, bad_request
from genesys_emulator.participants import PlatformOperations
from genesys_emulator.spec import (
    DISCONNECT_TYPES,
    ENDED_STATES,
    NOT_YET_CONNECTED,
    STATE_CHANGES,
    ConversationSpec,
    ParticipantSpec,
    explain,
)


class AdminActions(PlatformOperations):
    """What the people and flows in a conversation do, as the admin routes script it."""

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
        view["organization"] = conv.organization  # admin only: the platform's views do not carry it
        texts = {w.id: w.text for leg in conv.legs for w in leg.messages if w.text is not None}
        for participant in view["participants"]:
            for message in participant.get("messages", []):
                if message["messageId"] in texts:
                    message["text"] = texts[message["messageId"]]
        return view
