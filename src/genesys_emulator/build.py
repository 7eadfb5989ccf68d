"""Conversations built from admin specs: any state, with times given as `ago` or `at`.

Pure functions: the world validates the spec, builds with these, then indexes the result and
schedules its timers.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from genesys_emulator import assumptions as A
from genesys_emulator.clock import parse_iso
from genesys_emulator.entities import Conversation, Leg, Queue, Written, new_id
from genesys_emulator.errors import bad_request
from genesys_emulator.spec import (
    ENDED_STATES,
    NOT_YET_CONNECTED,
    ConversationSpec,
    ParticipantSpec,
    parse_duration,
)


def build_conversation(
    conv_id: str, spec: ConversationSpec, now: datetime, queue: Queue | None
) -> Conversation:
    def ago(value: str | float | None) -> datetime | None:
        return None if value is None else now - parse_duration(value)

    message_times = [m.moment(now) for p in spec.participants for m in p.messages]
    known = [
        t
        for p in spec.participants
        for t in (
            ago(p.startedAgo),
            ago(p.endedAgo),
            ago(p.acwStartedAgo),
            ago(p.connectedAgo),
            ago(p.parkedAgo),
        )
        if t is not None
    ]
    # without an explicit start, the conversation began with the earliest thing the spec mentions
    start = ago(spec.startedAgo) or min([*message_times, *known], default=now)
    legs = [build_leg(p, spec, start, now) for p in spec.participants]
    conv = Conversation(conv_id, spec.mediaType, spec.messageType, start, legs)
    if spec.propagationDelaySeconds is not None:
        conv.propagation_delay = timedelta(seconds=spec.propagationDelaySeconds)
    if not any(leg.active or leg.in_acw for leg in legs):
        ends = [t for leg in legs for t in (leg.end, leg.acw_end) if t is not None]
        conv.end = max(ends, default=start)
    last_message = max(message_times, default=start)
    if spec.inactivityTimeout is not None:
        conv.inactivity_timeout = parse_iso(spec.inactivityTimeout)
        conv.inactivity_seconds = (conv.inactivity_timeout - last_message).total_seconds()
    elif queue is not None and queue.inactivity_seconds and spec.mediaType == "message":
        conv.inactivity_seconds = queue.inactivity_seconds
        conv.inactivity_timeout = last_message + timedelta(seconds=queue.inactivity_seconds)
    if queue is not None:
        conv.inactivity_action = queue.action_type
    if conv.end is not None:
        conv.inactivity_timeout = None
    return conv


def build_leg(p: ParticipantSpec, spec: ConversationSpec, start: datetime, now: datetime) -> Leg:
    status = "received" if p.purpose == "customer" else "delivery-success"
    written = sorted(
        (Written(new_id(), m.moment(now), status, m.text) for m in p.messages), key=lambda w: w.at
    )
    leg_start = now - parse_duration(p.startedAgo) if p.startedAgo is not None else start
    leg = Leg(
        id=p.id or new_id(),
        purpose=p.purpose,
        state=p.state,
        start=leg_start,
        communication_id=new_id(),
        name=p.name or _default_name(p.purpose, spec),
        user_id=p.userId or (new_id() if p.purpose == "agent" else None),
        queue_id=p.queueId or (spec.queueId if p.purpose in ("acd", "agent") else None),
        attributes=dict(p.attributes),
        wrapup_required=p.wrapupRequired,
        wrapup_timeout_ms=p.wrapupTimeoutMs,
        messages=written,
    )
    if p.state not in NOT_YET_CONNECTED:
        leg.connected = now - parse_duration(p.connectedAgo) if p.connectedAgo is not None else leg_start
        if leg.connected < leg_start:
            raise bad_request(f"participant {p.purpose}: connectedAgo is before the leg started (startedAgo)")
    if p.parkedAgo is not None or p.state == "parked":
        leg.park = now - parse_duration(p.parkedAgo) if p.parkedAgo is not None else leg.connected
        if leg.park is not None and leg.connected is not None and leg.park < leg.connected:
            raise bad_request(f"participant {p.purpose}: parkedAgo is before the leg connected")
    if p.resumedAgo is not None:
        leg.resume = now - parse_duration(p.resumedAgo)
        if leg.park is not None and leg.resume < leg.park:
            raise bad_request(f"participant {p.purpose}: resumedAgo is before parkedAgo")
    if p.wrapup is not None:
        leg.wrapup = {"code": p.wrapup.code, "notes": p.wrapup.notes, "name": p.wrapup.name or p.wrapup.code}
    if p.state in ENDED_STATES:
        last_own = written[-1].at if written else leg_start
        leg.end = now - parse_duration(p.endedAgo) if p.endedAgo is not None else max(leg_start, last_own)
        leg.disconnect_type = p.disconnectType or A.CREATED_ENDED_DISCONNECT_TYPE.get(
            p.purpose, A.CREATED_ENDED_DISCONNECT_TYPE_OTHER
        )
        if p.purpose == "agent" and p.wrapupRequired:
            leg.acw_start = now - parse_duration(p.acwStartedAgo) if p.acwStartedAgo is not None else leg.end
            if leg.wrapup is not None:
                leg.acw_end = leg.acw_start
    elif p.disconnectType:
        raise bad_request(f"participant {p.purpose}: disconnectType given but state is {p.state!r}")
    return leg


def _default_name(purpose: str, spec: ConversationSpec) -> str:
    if purpose == "acd":
        return spec.queueId or "Queue"
    names = {"customer": "Guest", "agent": "Agent", "workflow": "Inbound message flow"}
    return names.get(purpose, purpose.title())
