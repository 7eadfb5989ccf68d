"""The generic conversation view (and the media view) map to the vendor-neutral model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from session_reaper.core.model import ActivityKind, Role, Wrapup
from session_reaper.genesys.errors import MalformedResponse
from session_reaper.genesys.mapping import to_conversation


def t(minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 21, 10, minute, second, tzinfo=UTC)


# Shaped like GET /api/v2/conversations/{id} for a web messaging conversation that went through a flow,
# waited in queue and reached an agent; one message of the agent is the reaper's closing text.
GENERIC: dict[str, Any] = {
    "id": "c-1",
    "startTime": "2026-11-21T10:00:00.000Z",
    "inactivityTimeout": "2026-11-21T11:00:00Z",
    "participants": [
        {
            "id": "p-cust",
            "purpose": "customer",
            "startTime": "2026-11-21T10:00:00.000Z",
            "attributes": {"reaper.exempt": "false", "n": 3},
            "messages": [
                {
                    "id": "m-cust",
                    "state": "CONNECTED",
                    "type": "WebMessaging",
                    "messages": [
                        {
                            "messageId": "g1",
                            "messageTime": "2026-11-21T10:00:05.123Z",
                            "messageStatus": "received",
                        },
                        {
                            "messageId": "g2",
                            "messageTime": "2026-11-21T10:09:00Z",
                            "messageStatus": "received",
                        },
                        {"messageId": "g3", "messageStatus": "received"},
                    ],
                }
            ],
        },
        {
            "id": "p-flow",
            "purpose": "workflow",
            "startTime": "2026-11-21T10:00:00Z",
            "endTime": "2026-11-21T10:01:00Z",
            "messages": [
                {
                    "id": "m-flow",
                    "state": "disconnected",
                    "disconnectType": "TRANSFER",
                    "type": "webmessaging",
                }
            ],
        },
        {
            "id": "p-acd",
            "purpose": "acd",
            "queueId": "q-1",
            "startTime": "2026-11-21T10:01:00Z",
            "endTime": "2026-11-21T10:02:00Z",
            "messages": [{"id": "m-acd", "state": "disconnected", "disconnectType": "transfer"}],
        },
        {
            "id": "p-agent",
            "purpose": "agent",
            "userId": "u-1",
            "name": "Ada",
            "queueId": "q-1",
            "wrapupRequired": True,
            "startTime": "2026-11-21T10:02:00Z",
            "messages": [
                {
                    "id": "m-agent",
                    "state": "connected",
                    "type": "webmessaging",
                    "messages": [
                        {
                            "messageId": "a1",
                            "messageTime": "2026-11-21T10:03:00Z",
                            "messageStatus": "delivery-success",
                        },
                        {"messageId": "r1", "messageTime": "2026-11-21T10:20:00Z", "messageStatus": "sent"},
                    ],
                }
            ],
        },
    ],
}


def test_generic_view_maps_roles_states_and_communications() -> None:
    conversation = to_conversation(GENERIC)
    assert conversation.id == "c-1"
    assert (conversation.media, conversation.channel) == ("message", "webmessaging")
    assert conversation.started_at == t(0)
    assert conversation.inactivity_timeout == datetime(2026, 11, 21, 11, 0, tzinfo=UTC)
    roles = [(p.id, p.role, p.state) for p in conversation.participants]
    assert roles == [
        ("p-cust", Role.CUSTOMER, "connected"),
        ("p-flow", Role.FLOW, "disconnected"),
        ("p-acd", Role.QUEUE, "disconnected"),
        ("p-agent", Role.AGENT, "connected"),
    ]
    agent = conversation.participant("p-agent")
    assert agent is not None
    assert (agent.communication_id, agent.user_id, agent.queue_id, agent.name) == (
        "m-agent",
        "u-1",
        "q-1",
        "Ada",
    )
    assert agent.wrapup_required and agent.wrapup is None and not agent.in_after_call_work
    flow = conversation.participant("p-flow")
    assert flow is not None and flow.disconnect_type == "transfer" and flow.ended_at == t(1)
    customer = conversation.customer
    assert customer is not None and customer.attributes == {"reaper.exempt": "false", "n": "3"}
    assert conversation.queue_ids == frozenset({"q-1"})


def test_every_timed_message_is_an_activity_and_the_reapers_own_never_reset_the_clock() -> None:
    conversation = to_conversation(GENERIC, {"r1": ActivityKind.REAPER_CLOSING})
    timeline = [(a.at, a.participant_id, a.role, a.kind, a.message_id) for a in conversation.activities]
    assert timeline == [
        (
            datetime(2026, 11, 21, 10, 0, 5, 123000, tzinfo=UTC),
            "p-cust",
            Role.CUSTOMER,
            ActivityKind.MESSAGE,
            "g1",
        ),
        (t(3), "p-agent", Role.AGENT, ActivityKind.MESSAGE, "a1"),
        (t(9), "p-cust", Role.CUSTOMER, ActivityKind.MESSAGE, "g2"),
        (t(20), "p-agent", Role.AGENT, ActivityKind.REAPER_CLOSING, "r1"),
    ]
    last = conversation.last_activity
    assert last is not None and last.message_id == "g2"


def test_after_call_work_and_wrapup_are_read() -> None:
    view = {
        "id": "c-2",
        "participants": [
            {
                "id": "c",
                "purpose": "customer",
                "messages": [{"id": "mc", "state": "disconnected", "type": "sms"}],
            },
            {
                "id": "a",
                "purpose": "agent",
                "wrapupRequired": True,
                "startAcwTime": "2026-11-21T10:05:00Z",
                "endTime": "2026-11-21T10:05:00Z",
                "messages": [{"id": "ma", "state": "disconnected", "disconnectType": "client"}],
            },
            {
                "id": "b",
                "purpose": "agent",
                "wrapupRequired": True,
                "wrapup": {"code": "wc-1", "name": "Resolved", "notes": "done"},
                "messages": [
                    {
                        "id": "mb",
                        "state": "disconnected",
                        "afterCallWork": {"state": "complete", "startTime": "2026-11-21T10:01:00Z"},
                    }
                ],
            },
        ],
    }
    conversation = to_conversation(view)
    assert conversation.channel == "sms"
    stuck, done = conversation.participant("a"), conversation.participant("b")
    assert stuck is not None and stuck.in_after_call_work and stuck.acw_started_at == t(5)
    assert done is not None and done.wrapup == Wrapup("wc-1", "done") and not done.in_after_call_work
    assert done.acw_started_at == t(1)
    assert not conversation.ended


def test_voice_and_other_media_are_marked_and_have_no_channel() -> None:
    view = {
        "id": "v",
        "participants": [
            {"id": "c", "purpose": "CUSTOMER", "calls": [{"id": "k", "state": "connected"}]},
            {"id": "x", "purpose": "external", "emails": [{"id": "e", "state": "connected"}]},
        ],
    }
    conversation = to_conversation(view)
    assert (conversation.media, conversation.channel) == ("voice", "")
    assert [p.role for p in conversation.participants] == [Role.CUSTOMER, Role.OTHER]


def test_informative_fields_may_be_missing() -> None:
    conversation = to_conversation(
        {
            "id": "c-9",
            "participants": [
                {"purpose": "botflow", "state": "connected"},
                {"id": "z", "endTime": "bad", "state": "disconnected"},
            ],
        }
    )
    assert [(p.role, p.state) for p in conversation.participants] == [
        (Role.FLOW, "connected"),
        (Role.OTHER, "disconnected"),
    ]
    assert conversation.media == "" and conversation.activities == ()


_AGENT = {"id": "a", "purpose": "agent", "messages": [{"id": "m", "state": "connected"}]}


@pytest.mark.parametrize(
    ("view", "why"),
    [
        ({"participants": []}, "about conversation None"),
        ({"id": "other", "participants": []}, "about conversation 'other'"),
        ({"id": "c-1"}, "participants is missing"),
        ({"id": "c-1", "participants": "x"}, "participants is a str"),
        ({"id": "c-1", "participants": {"a": 1}}, "participants is a dict"),
        ({"id": "c-1", "participants": [_AGENT, "junk"]}, "not a JSON object"),
        ({"id": "c-1", "participants": [{"id": "a", "purpose": "agent"}]}, "state 'missing'"),
        (
            {"id": "c-1", "participants": [{**_AGENT, "messages": [{"id": "m", "state": "zombie"}]}]},
            "'zombie'",
        ),
        ({"id": "c-1", "participants": [{**_AGENT, "messages": [{"id": "m", "state": 7}]}]}, "'<int>'"),
        (
            {"id": "c-1", "participants": [{"id": "a", "purpose": "customer", "state": ["connected"]}]},
            "'<list>'",
        ),
        ({"id": "c-1", "participants": [_AGENT] * 501}, "501 participants"),
    ],
)
def test_an_answer_that_cannot_be_read_safely_is_refused(view: dict[str, Any], why: str) -> None:
    with pytest.raises(MalformedResponse) as raised:
        to_conversation(view, conversation_id="c-1")
    assert why in str(raised.value)
    assert "could not be read" in str(raised.value)


def test_a_huge_message_list_is_refused() -> None:
    details = [{"messageTime": "2026-11-21T10:04:00Z"}] * 20_001
    view = {
        "id": "c-1",
        "participants": [{**_AGENT, "messages": [{"id": "m", "state": "connected", "messages": details}]}],
    }
    with pytest.raises(MalformedResponse, match="20001 messages"):
        to_conversation(view)


def test_media_view_is_accepted_too() -> None:
    view = {
        "id": "c-3",
        "participants": [
            {
                "id": "p1",
                "purpose": "customer",
                "state": "connected",
                "type": "webmessaging",
                "messages": [
                    {"messageId": "x", "messageTime": "2026-11-21T10:04:00Z", "messageStatus": "received"}
                ],
            },
            {"id": "p2", "purpose": "agent", "state": "disconnected", "messages": []},
        ],
    }
    conversation = to_conversation(view)
    assert conversation.media == "message" and conversation.channel == "webmessaging"
    assert [a.at for a in conversation.activities] == [t(4)]
    assert [p.state for p in conversation.participants] == ["connected", "disconnected"]
