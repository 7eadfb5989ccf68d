"""The building blocks of the emulator's OpenAPI document: schema helpers and the platform's schemas.

Shared by the platform operations (openapi.py) and the admin API's (openapi_admin.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Schema = dict[str, Any]
ISO = {"type": "string", "format": "date-time"}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: Iterable[str] = (), **properties: Schema) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def array(items: Schema, **extra: Any) -> Schema:
    return {"type": "array", "items": items, **extra}


STR = {"type": "string"}
NULLABLE_STR = {"type": ["string", "null"]}
INT = {"type": "integer"}
STRINGS = {"type": "object", "additionalProperties": STR}
# Enum values are accepted in any case [MODEL]; a pattern says so where an enum cannot.
DISCONNECTED = {
    "type": "string",
    "pattern": "^" + "".join(f"[{c}{c.upper()}]" for c in "disconnected") + "$",
    "description": "only 'disconnected', in any case",
}
INSTANT = (
    r"20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{3})?Z"
)

# ------------------------------------------------------------------------------------ shared schemas

PLATFORM_SCHEMAS: dict[str, Schema] = {
    "ErrorBody": {
        **obj(
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
            message=STR,
            code=STR,
            status=INT,
            messageWithParams=STR,
            messageParams=STRINGS,
            contextId=STR,
            details=array({"type": "object"}),
            errors=array({"type": "object"}),
        ),
        "description": "The platform's error body [SDK ErrorBody]",
    },
    "OAuthError": obj(("error",), error=STR, description=STR, error_description=STR),
    "TokenResponse": obj(
        ("access_token", "token_type", "expires_in"), access_token=STR, token_type=STR, expires_in=INT
    ),
    "TokenInfo": obj(
        ("organization",),
        organization=obj(("id",), id=STR, name=STR),
        homeOrganization=obj(("id",), id=STR, name=STR),
        authorizedScope=array(STR),
        OAuthClient=obj(("id",), id=STR, name=STR),
    ),
    "ConversationQuery": obj(
        ("interval",),
        interval={
            "type": "string",
            "pattern": f"^{INSTANT}/{INSTANT}$",
            "description": "ISO-8601 'start/end', the end after the start, at most 31 days",
        },
        order={"type": "string", "enum": ["asc", "desc"]},
        orderBy={"type": "string", "enum": ["conversationStart", "conversationEnd"]},
        paging=obj(
            (),
            pageSize={"type": "integer", "minimum": 1, "maximum": 100},
            pageNumber={"type": "integer", "minimum": 1},
        ),
        conversationFilters=array({"type": "object"}),
        segmentFilters=array({"type": "object"}),
    ),
    "AnalyticsConversationQueryResponse": obj(
        ("totalHits",),
        totalHits=INT,
        conversations=array(obj(("conversationId",), conversationId=STR, participants=array({}))),
    ),
    "MessageConversation": obj(
        ("id", "participants"),
        id=STR,
        participants=array(obj(("id", "purpose", "state"), id=STR, purpose=STR, state=STR)),
        inactivityTimeout=ISO,
        selfUri=STR,
    ),
    "Conversation": obj(
        ("id", "participants"),
        id=STR,
        startTime=ISO,
        endTime=ISO,
        state=STR,
        participants=array(obj(("id",), id=STR, purpose=STR, attributes=STRINGS)),
        selfUri=STR,
    ),
    "ConversationDisconnect": obj(("state",), state=DISCONNECTED),
    "MediaParticipantRequest": obj(
        (),
        state=DISCONNECTED,
        wrapup=ref("WrapupInput"),
        wrapupSkipped={"type": "boolean"},
    ),
    "WrapupInput": obj(("code",), code=STR, notes=STR, name=STR, tags=array(STR)),
    "ParticipantAttributes": obj(("attributes",), attributes=STRINGS),
    "AdditionalMessage": obj(("textBody",), textBody={"type": "string", "minLength": 1}),
    "MessageData": obj(("id", "textBody"), id=STR, conversationId=STR, textBody=STR, status=STR),
    "WrapupCode": obj(("id", "name"), id=STR, name=STR, selfUri=STR),
    "Queue": obj(("id", "name"), id=STR, name=STR, mediaSettings={"type": "object"}, selfUri=STR),
    "QueueEntityListing": obj(
        ("entities", "pageSize", "pageNumber", "total"),
        entities=array(ref("Queue")),
        pageSize=INT,
        pageNumber=INT,
        total=INT,
        pageCount=INT,
    ),
    "Channel": obj(("id", "connectUri", "expires"), id=STR, connectUri=STR, expires=ISO),
    "ChannelEntityListing": obj(("entities",), entities=array(ref("Channel"))),
    "ChannelTopics": array(obj(("id",), id={"type": "string", "minLength": 1}), maxItems=1000),
    "ChannelTopicEntityListing": obj(
        ("entities",),
        entities=array(
            obj(
                ("id", "state"),
                id=STR,
                state={"type": "string", "enum": ["Permitted", "Rejected"]},
                rejectionReason=STR,
                missingPermissions=array(STR),
                selfUri=STR,
            )
        ),
    ),
    "AvailableTopicEntityListing": obj(
        ("entities",),
        entities=array(
            obj(
                ("id",),
                id=STR,
                description=STR,
                requiresPermissions=array(STR),
                permissionDetails=array({"type": "object"}),
                requiresCurrentUser={"type": "boolean"},
                transports=array(STR),
            )
        ),
    ),
}

# ------------------------------------------------------------------------------------ operations


def json_body(schema: Schema) -> Schema:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def response(status: int, schema: Schema | None, what: str) -> dict[str, Any]:
    if schema is None:
        return {str(status): {"description": what}}
    return {str(status): {"description": what, "content": {"application/json": {"schema": schema}}}}


def path_params(path: str) -> list[Schema]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    return [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names]


def error_responses(schema: str = "ErrorBody") -> dict[str, Any]:
    return {
        "default": {
            "description": "an error, in the platform's error shape",
            "content": {"application/json": {"schema": ref(schema)}},
        }
    }
