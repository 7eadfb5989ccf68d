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

from genesys_emulator import notifications_api as notif
from genesys_emulator import platform
from genesys_emulator.openapi_admin import admin_paths, model_schemas
from genesys_emulator.openapi_schemas import (
    PLATFORM_SCHEMAS,
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

OPENAPI_PATH = "/emulator/v1/openapi.json"

# operation -> (summary, request schema or None, success status, answer schema or None)
_PLATFORM_OPERATIONS: dict[Callable[..., Any], tuple[str, Schema | None, int, Schema | None]] = {
    platform.tokens_me: ("Who am I", None, 200, ref("TokenInfo")),
    platform.details_query: (
        "Query conversation details (discovery)",
        ref("ConversationQuery"),
        200,
        ref("AnalyticsConversationQueryResponse"),
    ),
    platform.media_view: ("Read a message conversation (media view)", None, 200, ref("MessageConversation")),
    platform.disconnect_conversation: (
        "Disconnect every participant of a message conversation",
        ref("ConversationDisconnect"),
        200,
        ref("Conversation"),
    ),
    platform.patch_participant: (
        "Disconnect a participant and/or apply its wrap-up",
        ref("MediaParticipantRequest"),
        202,
        None,
    ),
    platform.patch_attributes: (
        "Set participant attributes",
        ref("ParticipantAttributes"),
        200,
        ref("ParticipantAttributes"),
    ),
    platform.wrapup_codes: ("Wrap-up codes a participant may use", None, 200, array(ref("WrapupCode"))),
    platform.wrapup: ("Apply a wrap-up", ref("WrapupInput"), 202, None),
    platform.send_message: (
        "Send a message through a communication",
        ref("AdditionalMessage"),
        202,
        ref("MessageData"),
    ),
    platform.generic_view: ("Read a conversation (generic view)", None, 200, ref("Conversation")),
    platform.teardown: ("Tear a conversation down", None, 202, STR),
    platform.generic_wrapup_codes: ("Wrap-up codes (any media)", None, 200, array(ref("WrapupCode"))),
    platform.list_queues: ("List queues", None, 200, ref("QueueEntityListing")),
    platform.get_queue: ("Read a queue", None, 200, ref("Queue")),
    notif.create_channel: ("Create a notification channel", None, 200, ref("Channel")),
    notif.list_channels: ("The client's channels", None, 200, ref("ChannelEntityListing")),
    notif.head_channel: ("Is the channel still there (200) or gone (404)", None, 200, None),
    notif.get_subscriptions: ("A channel's topics", None, 200, ref("ChannelTopicEntityListing")),
    notif.post_subscriptions: (
        "Add topics to a channel (extends its life)",
        ref("ChannelTopics"),
        200,
        ref("ChannelTopicEntityListing"),
    ),
    notif.put_subscriptions: (
        "Replace a channel's topics (extends its life)",
        ref("ChannelTopics"),
        200,
        ref("ChannelTopicEntityListing"),
    ),
    notif.delete_subscriptions: ("Remove every topic of a channel", None, 204, None),
    notif.available_topics: ("The topics on offer", None, 200, ref("AvailableTopicEntityListing")),
}

_QUEUE_QUERY = [
    {"name": "pageSize", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
    {"name": "pageNumber", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    {"name": "name", "in": "query", "schema": {"type": "string"}},
]


def _platform_paths() -> dict[str, dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = {}
    for path, method, operation, permissions in platform.ROUTES:
        summary, request, status, answer = _PLATFORM_OPERATIONS[operation]
        spec: dict[str, Any] = {
            "tags": ["platform"],
            "summary": summary,
            "operationId": operation.__name__,
            "security": [{"bearer": []}],
            "parameters": path_params(path) + (_QUEUE_QUERY if operation is platform.list_queues else []),
            "responses": {**response(status, answer, "done"), **error_responses()},
        }
        if permissions:
            spec["description"] = "Needs any one of the permissions: " + ", ".join(permissions)
            spec["x-permissions"] = list(permissions)
        if request is not None:
            spec["requestBody"] = json_body(request)
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
                        "schema": obj(
                            ("grant_type",), grant_type={"type": "string", "enum": ["client_credentials"]}
                        )
                    }
                },
            },
            "responses": {
                **response(200, ref("TokenResponse"), "a bearer token"),
                **response(400, ref("OAuthError"), "a bad grant"),
                **response(401, ref("OAuthError"), "bad client credentials"),
                **error_responses(),
            },
        }
    }
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
        "paths": {**_platform_paths(), **admin_paths(admin_routes)},
        "components": {
            "schemas": {**copy.deepcopy(PLATFORM_SCHEMAS), **model_schemas()},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic"},
            },
        },
    }
