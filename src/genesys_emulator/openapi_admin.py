"""The emulator admin API's part of the OpenAPI document: its bodies, answers and the specs' models."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from genesys_emulator.openapi_schemas import (
    INT,
    ISO,
    NULLABLE_STR,
    STR,
    Schema,
    array,
    error_responses,
    json_body,
    obj,
    path_params,
    ref,
    response,
)
from genesys_emulator.spec import (
    ClientSpec,
    ConversationSpec,
    FaultSpec,
    ParticipantSpec,
    QueueSpec,
    TriggerSpec,
)

_NOW = obj(("now",), now=ISO)
_MESSAGE_BODY = obj((), **{"from": STR, "text": STR})
_MESSAGE_BODY["additionalProperties"] = False
_CLOCK_BODY: Schema = {
    "oneOf": [
        {
            **obj(("advanceSeconds",), advanceSeconds={"type": "number", "minimum": 0}),
            "additionalProperties": False,
        },
        {**obj(("set",), set=ISO), "additionalProperties": False},
    ]
}
_QUEUE_JSON = obj(
    ("id",),
    id=STR,
    name=STR,
    inactivityTimeoutSeconds={"type": ["integer", "null"]},
    actionType=STR,
    flowId=NULLABLE_STR,
)

# admin endpoint name -> (request schema or None, success status, answer schema)
_ADMIN_OPERATIONS: dict[str, tuple[Schema | None, int, Schema]] = {
    "reset": (None, 200, obj(("reset", "now"), reset={"type": "boolean"}, now=ISO)),
    "read_clock": (None, 200, _NOW),
    "move_clock": (_CLOCK_BODY, 200, _NOW),
    "create_conversation": (ref("ConversationSpec"), 201, ref("MessageConversation")),
    "create_conversations": (
        obj(("conversations",), conversations=array(ref("ConversationSpec"))),
        201,
        obj(("ids",), ids=array(STR)),
    ),
    "read_conversation": (None, 200, ref("MessageConversation")),
    "write_message": (_MESSAGE_BODY, 201, {"type": "object"}),
    "join": (ref("ParticipantSpec"), 201, obj(("id",), id=STR, communicationId=STR)),
    "leave": (obj((), disconnectType=STR), 200, obj(("left",), left=STR)),
    "change_state": (
        obj(("state",), state=STR),
        200,
        obj(("participantId", "state"), participantId=STR, state=STR),
    ),
    "agent_wrapup": (ref("WrapupInput"), 200, obj(("wrappedUp",), wrappedUp=STR)),
    "add_fault": (ref("FaultSpec"), 201, {"type": "object"}),
    "list_faults": (None, 200, obj(("faults",), faults=array({"type": "object"}))),
    "clear_faults": (None, 200, obj(("faults",), faults=array({}))),
    "add_trigger": (ref("TriggerSpec"), 201, {"type": "object"}),
    "list_triggers": (None, 200, obj(("triggers",), triggers=array({"type": "object"}))),
    "clear_triggers": (None, 200, obj(("triggers",), triggers=array({}))),
    "list_requests": (
        None,
        200,
        obj(
            ("requests",),
            requests=array(
                obj(
                    ("at", "method", "path", "status", "clientId"),
                    at=ISO,
                    method=STR,
                    path=STR,
                    status=INT,
                    clientId=NULLABLE_STR,
                )
            ),
        ),
    ),
    "clear_requests": (None, 200, obj(("requests",), requests=array({}))),
    "add_client": (
        ref("ClientSpec"),
        201,
        obj(("clientId",), clientId=STR, permissions=array(STR), rateLimitPerMinute=INT),
    ),
    "configure_queue": (ref("QueueSpec"), 201, _QUEUE_JSON),
    "list_queues": (None, 200, obj(("queues",), queues=array(_QUEUE_JSON))),
    "read_notifications": (
        None,
        200,
        obj(
            ("heartbeatSeconds", "sendQueueLimit", "channels"),
            heartbeatSeconds={"type": "number"},
            sendQueueLimit=INT,
            channels=array(
                obj(
                    ("id", "clientId", "expires", "connected", "topics", "eventsSent", "eventsDropped"),
                    id=STR,
                    clientId=STR,
                    expires=ISO,
                    connected={"type": "boolean"},
                    topics=array(STR),
                    eventsSent=INT,
                    eventsDropped=INT,
                )
            ),
            faults=array({"type": "object"}),
        ),
    ),
    "notification_settings": (
        {
            **obj(
                (),
                heartbeatSeconds={"type": "number", "minimum": 0.05, "maximum": 3600},
                sendQueueLimit={"type": "integer", "minimum": 1, "maximum": 1_000_000},
            ),
            "additionalProperties": False,
            "minProperties": 1,
        },
        200,
        obj(("heartbeatSeconds", "sendQueueLimit"), heartbeatSeconds={"type": "number"}, sendQueueLimit=INT),
    ),
    "add_notification_fault": (
        {
            **obj(
                ("type",),
                type={"type": "string", "enum": ["disconnect", "socket_closing", "silence", "drop", "delay"]},
                channelId=STR,
                clientId=STR,
                times={"type": "integer", "minimum": 1, "maximum": 1_000_000},
                delaySeconds={"type": "number", "minimum": 0, "maximum": 3600},
                closeAfterSeconds={"type": "number", "minimum": 0, "maximum": 3600},
            ),
            "additionalProperties": False,
        },
        201,
        obj(("fault", "sockets"), fault={"type": "object"}, sockets=INT),
    ),
    "clear_notification_faults": (None, 200, obj(("faults",), faults=array({}))),
    "openapi_document": (None, 200, obj(("openapi", "paths"), openapi=STR, paths={"type": "object"})),
}

_ADMIN_MODELS: tuple[type[BaseModel], ...] = (
    ConversationSpec,
    ParticipantSpec,
    FaultSpec,
    TriggerSpec,
    ClientSpec,
    QueueSpec,
)


def model_schemas() -> dict[str, Schema]:
    """The admin specs' JSON schemas (as pydantic validates them), their nested models hoisted."""
    found: dict[str, Schema] = {}
    for model in _ADMIN_MODELS:
        schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
        found.update(schema.pop("$defs", {}))
        found[model.__name__] = schema
    return found


def admin_paths(routes: Iterable[tuple[str, str, str]]) -> dict[str, dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = {}
    for path, method, name in routes:
        request, status, answer = _ADMIN_OPERATIONS[name]
        spec: dict[str, Any] = {
            "tags": ["emulator admin"],
            "operationId": f"admin_{name}",
            "parameters": path_params(path),
            "responses": {**response(status, answer, "done"), **error_responses()},
        }
        if request is not None:
            spec["requestBody"] = json_body(request)
        paths.setdefault(path, {})[method.lower()] = spec
    return paths
