"""The platform's operations on a conversation's participants: disconnect, wrap up, attributes, send.

What the public API lets a client do (platform.py's routes call these); each applies the timers due
by the virtual clock first and records the change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from genesys_emulator import assumptions as A
from genesys_emulator import views
from genesys_emulator.clock import iso
from genesys_emulator.entities import Conversation, Leg, Written, new_id
from genesys_emulator.errors import PlatformError, bad_request, not_found
from genesys_emulator.lifecycle import ConversationLifecycle


class PlatformOperations(ConversationLifecycle):
    """The public API's writes to a conversation (and the wrap-up codes it offers)."""

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


def _code_name(code: str) -> str:
    for code_id, name in A.DEFAULT_WRAPUP_CODES:
        if code_id == code:
            return name
    return A.SYSTEM_WRAPUP_CODE_NAME if code == A.SYSTEM_WRAPUP_CODE_ID else code
