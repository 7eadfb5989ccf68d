"""The emulator's own OpenAPI document: the routes it serves, with their bodies, answers and errors.

Served at `GET /emulator/v1/openapi.json`, in the admin namespace, because the platform publishes no
such document at its API host under these paths: a client that probes `/api/v2/...` must find only
what PLATFORM.md lists. It describes the emulator, not the whole platform: the platform operations of
`platform.ROUTES` (request bodies as the SDK's models name them, answers as `views` renders them), the
OAuth token route, and the admin API. Schemas are open (extra properties allowed) where the platform
may add fields; every error answer is the platform's error body (`ErrorBody`), except the OAuth
server's, which answers in OAuth's own shape (`OAuthError`), as the login host does.

The document is built from the route tables themselves (`platform.ROUTES`, the admin router), so a
route added without a description here fails `test_openapi` instead of going undocumented.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel

from genesys_emulator import platform
from genesys_emulator.spec import (
    ClientSpec,
    ConversationSpec,
    FaultSpec,
    ParticipantSpec,
    QueueSpec,
    TriggerSpec,
)

Schema = dict[str, Any]
OPENAPI_PATH = "/emulator/v1/openapi.json"
_ISO = {"type": "string", "format": "date-time"}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: Iterable[str] = (), **properties: Schema) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _array(items: Schema, **extra: Any) -> Schema:
    return {"type": "array", "items": items, **extra}


_STR = {"type": "string"}
_NULLABLE_STR = {"type": ["string", "null"]}
_INT = {"type": "integer"}
_STRINGS = {"type": "object", "additionalProperties": _STR}
# Enum values are accepted in any case [MODEL]; a pattern says so where an enum cannot.
_DISCONNECTED = {
    "type": "string",
    "pattern": "^" + "".join(f"[{c}{c.upper()}]" for c in "disconnected") + "$",
    "description": "only 'disconnected', in any case",
}
_INSTANT = (
    r"20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{3})?Z"
)

# ------------------------------------------------------------------------------------ shared schemas

_PLATFORM_SCHEMAS: dict[str, Schema] = {
    "ErrorBody": {
        **_obj(
            (
                "message",
                "code",
                "status",
                "messageWithParams",
                "messageParams",
                "contextId",
                "details",
                "errors",
            ),
            message=_STR,
            code=_STR,
            status=_INT,
            messageWithParams=_STR,
            messageParams=_STRINGS,
            contextId=_STR,
            details=_array({"type": "object"}),
            errors=_array({"type": "object"}),
        ),
        "description": "The platform's error body [SDK ErrorBody]",
    },
    "OAuthError": _obj(("error",), error=_STR, description=_STR, error_description=_STR),
    "TokenResponse": _obj(
        ("access_token", "token_type", "expires_in"), access_token=_STR, token_type=_STR, expires_in=_INT
    ),
    "TokenInfo": _obj(
        ("organization",),
        organization=_obj(("id",), id=_STR, name=_STR),
        homeOrganization=_obj(("id",), id=_STR, name=_STR),
        authorizedScope=_array(_STR),
        OAuthClient=_obj(("id",), id=_STR, name=_STR),
    ),
    "ConversationQuery": _obj(
        ("interval",),
        interval={
            "type": "string",
            "pattern": f"^{_INSTANT}/{_INSTANT}$",
            "description": "ISO-8601 'start/end', the end after the start, at most 31 days",
        },
        order={"type": "string", "enum": ["asc", "desc"]},
        orderBy={"type": "string", "enum": ["conversationStart", "conversationEnd"]},
        paging=_obj(
            (),
            pageSize={"type": "integer", "minimum": 1, "maximum": 100},
            pageNumber={"type": "integer", "minimum": 1},
        ),
        conversationFilters=_array({"type": "object"}),
        segmentFilters=_array({"type": "object"}),
    ),
    "AnalyticsConversationQueryResponse": _obj(
        ("totalHits",),
        totalHits=_INT,
        conversations=_array(_obj(("conversationId",), conversationId=_STR, participants=_array({}))),
    ),
    "MessageConversation": _obj(
        ("id", "participants"),
        id=_STR,
        participants=_array(_obj(("id", "purpose", "state"), id=_STR, purpose=_STR, state=_STR)),
        inactivityTimeout=_ISO,
        selfUri=_STR,
    ),
    "Conversation": _obj(
        ("id", "participants"),
        id=_STR,
        startTime=_ISO,
        endTime=_ISO,
        state=_STR,
        participants=_array(_obj(("id",), id=_STR, purpose=_STR, attributes=_STRINGS)),
        selfUri=_STR,
    ),
    "ConversationDisconnect": _obj(("state",), state=_DISCONNECTED),
    "MediaParticipantRequest": _obj(
        (),
        state=_DISCONNECTED,
        wrapup=_ref("WrapupInput"),
        wrapupSkipped={"type": "boolean"},
    ),
    "WrapupInput": _obj(("code",), code=_STR, notes=_STR, name=_STR, tags=_array(_STR)),
    "ParticipantAttributes": _obj(("attributes",), attributes=_STRINGS),
    "AdditionalMessage": _obj(("textBody",), textBody={"type": "string", "minLength": 1}),
    "MessageData": _obj(("id", "textBody"), id=_STR, conversationId=_STR, textBody=_STR, status=_STR),
    "WrapupCode": _obj(("id", "name"), id=_STR, name=_STR, selfUri=_STR),
    "Queue": _obj(("id", "name"), id=_STR, name=_STR, mediaSettings={"type": "object"}, selfUri=_STR),
    "QueueEntityListing": _obj(
        ("entities", "pageSize", "pageNumber", "total"),
        entities=_array(_ref("Queue")),
        pageSize=_INT,
        pageNumber=_INT,
        total=_INT,
        pageCount=_INT,
    ),
}

# ------------------------------------------------------------------------------------ operations


def _json_body(schema: Schema) -> Schema:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _answer(status: int, schema: Schema | None, what: str) -> dict[str, Any]:
    if schema is None:
        return {str(status): {"description": what}}
    return {str(status): {"description": what, "content": {"application/json": {"schema": schema}}}}


def _path_params(path: str) -> list[Schema]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    return [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names]


# operation -> (summary, request schema or None, success status, answer schema or None)
_PLATFORM_OPERATIONS: dict[Callable[..., Any], tuple[str, Schema | None, int, Schema | None]] = {
    platform.tokens_me: ("Who am I", None, 200, _ref("TokenInfo")),
    platform.details_query: (
        "Query conversation details (discovery)",
        _ref("ConversationQuery"),
        200,
        _ref("AnalyticsConversationQueryResponse"),
    ),
    platform.media_view: ("Read a message conversation (media view)", None, 200, _ref("MessageConversation")),
    platform.disconnect_conversation: (
        "Disconnect every participant of a message conversation",
        _ref("ConversationDisconnect"),
        200,
        _ref("Conversation"),
    ),
    platform.patch_participant: (
        "Disconnect a participant and/or apply its wrap-up",
        _ref("MediaParticipantRequest"),
        202,
        None,
    ),
    platform.patch_attributes: (
        "Set participant attributes",
        _ref("ParticipantAttributes"),
        200,
        _ref("ParticipantAttributes"),
    ),
    platform.wrapup_codes: ("Wrap-up codes a participant may use", None, 200, _array(_ref("WrapupCode"))),
    platform.wrapup: ("Apply a wrap-up", _ref("WrapupInput"), 202, None),
    platform.send_message: (
        "Send a message through a communication",
        _ref("AdditionalMessage"),
        202,
        _ref("MessageData"),
    ),
    platform.generic_view: ("Read a conversation (generic view)", None, 200, _ref("Conversation")),
    platform.teardown: ("Tear a conversation down", None, 202, _STR),
    platform.generic_wrapup_codes: ("Wrap-up codes (any media)", None, 200, _array(_ref("WrapupCode"))),
    platform.list_queues: ("List queues", None, 200, _ref("QueueEntityListing")),
    platform.get_queue: ("Read a queue", None, 200, _ref("Queue")),
}

_QUEUE_QUERY = [
    {"name": "pageSize", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
    {"name": "pageNumber", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    {"name": "name", "in": "query", "schema": {"type": "string"}},
]


def _errors(schema: str = "ErrorBody") -> dict[str, Any]:
    return {
        "default": {
            "description": "an error, in the platform's error shape",
            "content": {"application/json": {"schema": _ref(schema)}},
        }
    }


def _platform_paths() -> dict[str, dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = {}
    for path, method, operation, permissions in platform.ROUTES:
        summary, request, status, answer = _PLATFORM_OPERATIONS[operation]
        spec: dict[str, Any] = {
            "tags": ["platform"],
            "summary": summary,
            "operationId": operation.__name__,
            "security": [{"bearer": []}],
            "parameters": _path_params(path) + (_QUEUE_QUERY if operation is platform.list_queues else []),
            "responses": {**_answer(status, answer, "done"), **_errors()},
        }
        if permissions:
            spec["description"] = "Needs any one of the permissions: " + ", ".join(permissions)
            spec["x-permissions"] = list(permissions)
        if request is not None:
            spec["requestBody"] = _json_body(request)
        paths.setdefault(path, {})[method.lower()] = spec
    paths["/oauth/token"] = {
        "post": {
            "tags": ["platform"],
            "summary": "Get a token (client credentials, HTTP Basic client id and secret)",
            "operationId": "oauth_token",
            "security": [{"basic": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": _obj(
                            ("grant_type",), grant_type={"type": "string", "enum": ["client_credentials"]}
                        )
                    }
                },
            },
            "responses": {
                **_answer(200, _ref("TokenResponse"), "a bearer token"),
                **_answer(400, _ref("OAuthError"), "a bad grant"),
                **_answer(401, _ref("OAuthError"), "bad client credentials"),
                **_errors(),
            },
        }
    }
    return paths


# ----------------------------------------------------------------------------------------- admin

_NOW = _obj(("now",), now=_ISO)
_MESSAGE_BODY = _obj((), **{"from": _STR, "text": _STR})
_MESSAGE_BODY["additionalProperties"] = False
_CLOCK_BODY: Schema = {
    "oneOf": [
        {
            **_obj(("advanceSeconds",), advanceSeconds={"type": "number", "minimum": 0}),
            "additionalProperties": False,
        },
        {**_obj(("set",), set=_ISO), "additionalProperties": False},
    ]
}
_QUEUE_JSON = _obj(
    ("id",),
    id=_STR,
    name=_STR,
    inactivityTimeoutSeconds={"type": ["integer", "null"]},
    actionType=_STR,
    flowId=_NULLABLE_STR,
)

# admin endpoint name -> (request schema or None, success status, answer schema)
_ADMIN_OPERATIONS: dict[str, tuple[Schema | None, int, Schema]] = {
    "reset": (None, 200, _obj(("reset", "now"), reset={"type": "boolean"}, now=_ISO)),
    "read_clock": (None, 200, _NOW),
    "move_clock": (_CLOCK_BODY, 200, _NOW),
    "create_conversation": (_ref("ConversationSpec"), 201, _ref("MessageConversation")),
    "create_conversations": (
        _obj(("conversations",), conversations=_array(_ref("ConversationSpec"))),
        201,
        _obj(("ids",), ids=_array(_STR)),
    ),
    "read_conversation": (None, 200, _ref("MessageConversation")),
    "write_message": (_MESSAGE_BODY, 201, {"type": "object"}),
    "join": (_ref("ParticipantSpec"), 201, _obj(("id",), id=_STR, communicationId=_STR)),
    "leave": (_obj((), disconnectType=_STR), 200, _obj(("left",), left=_STR)),
    "change_state": (
        _obj(("state",), state=_STR),
        200,
        _obj(("participantId", "state"), participantId=_STR, state=_STR),
    ),
    "agent_wrapup": (_ref("WrapupInput"), 200, _obj(("wrappedUp",), wrappedUp=_STR)),
    "add_fault": (_ref("FaultSpec"), 201, {"type": "object"}),
    "list_faults": (None, 200, _obj(("faults",), faults=_array({"type": "object"}))),
    "clear_faults": (None, 200, _obj(("faults",), faults=_array({}))),
    "add_trigger": (_ref("TriggerSpec"), 201, {"type": "object"}),
    "list_triggers": (None, 200, _obj(("triggers",), triggers=_array({"type": "object"}))),
    "clear_triggers": (None, 200, _obj(("triggers",), triggers=_array({}))),
    "list_requests": (
        None,
        200,
        _obj(
            ("requests",),
            requests=_array(
                _obj(
                    ("at", "method", "path", "status", "clientId"),
                    at=_ISO,
                    method=_STR,
                    path=_STR,
                    status=_INT,
                    clientId=_NULLABLE_STR,
                )
            ),
        ),
    ),
    "clear_requests": (None, 200, _obj(("requests",), requests=_array({}))),
    "add_client": (
        _ref("ClientSpec"),
        201,
        _obj(("clientId",), clientId=_STR, permissions=_array(_STR), rateLimitPerMinute=_INT),
    ),
    "configure_queue": (_ref("QueueSpec"), 201, _QUEUE_JSON),
    "list_queues": (None, 200, _obj(("queues",), queues=_array(_QUEUE_JSON))),
    "openapi_document": (None, 200, _obj(("openapi", "paths"), openapi=_STR, paths={"type": "object"})),
}

_ADMIN_MODELS: tuple[type[BaseModel], ...] = (
    ConversationSpec,
    ParticipantSpec,
    FaultSpec,
    TriggerSpec,
    ClientSpec,
    QueueSpec,
)


def _model_schemas() -> dict[str, Schema]:
    """The admin specs' JSON schemas (as pydantic validates them), their nested models hoisted."""
    found: dict[str, Schema] = {}
    for model in _ADMIN_MODELS:
        schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
        found.update(schema.pop("$defs", {}))
        found[model.__name__] = schema
    return found


def _admin_paths(routes: Iterable[tuple[str, str, str]]) -> dict[str, dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = {}
    for path, method, name in routes:
        request, status, answer = _ADMIN_OPERATIONS[name]
        spec: dict[str, Any] = {
            "tags": ["emulator admin"],
            "operationId": f"admin_{name}",
            "parameters": _path_params(path),
            "responses": {**_answer(status, answer, "done"), **_errors()},
        }
        if request is not None:
            spec["requestBody"] = _json_body(request)
        paths.setdefault(path, {})[method.lower()] = spec
    return paths


def build_document(admin_routes: Iterable[tuple[str, str, str]]) -> dict[str, Any]:
    """The document for the platform routes and the given admin routes, as (path, method, endpoint name)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Genesys Cloud emulator (session-reaper)",
            "version": "1",
            "description": __doc__.split("\n\n")[1] if __doc__ else "",
        },
        "paths": {**_platform_paths(), **_admin_paths(admin_routes)},
        "components": {
            "schemas": {**copy.deepcopy(_PLATFORM_SCHEMAS), **_model_schemas()},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic"},
            },
        },
    }
