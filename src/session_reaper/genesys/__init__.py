"""The Genesys Cloud adapter: the only part of session-reaper that knows the platform's API.

``GenesysApi.connect(...)`` gives typed calls over a paced, retrying transport; ``discover`` finds
the unended message conversations in scope; ``to_conversation`` turns a platform view into the
vendor-neutral model. Every failure is a ``GenesysError`` (see ``errors``).
"""

from session_reaper.core.model import DiscoveredConversation
from session_reaper.genesys.api import GenesysApi
from session_reaper.genesys.attempts import RequestStats, ResponseEvent
from session_reaper.genesys.clock import ClockNotSynced, PlatformClock
from session_reaper.genesys.discovery import discover
from session_reaper.genesys.errors import (
    AuthenticationFailed,
    BadRequest,
    Conflict,
    GenesysError,
    NotFound,
    PermissionMissing,
    RateLimited,
    ServerError,
    TransportError,
)
from session_reaper.genesys.http import RetryPolicy
from session_reaper.genesys.mapping import to_conversation
from session_reaper.genesys.port import GenesysPlatform
from session_reaper.genesys.regions import REGIONS, Endpoints, UnknownRegion, resolve

__all__ = [
    "REGIONS",
    "AuthenticationFailed",
    "BadRequest",
    "ClockNotSynced",
    "Conflict",
    "DiscoveredConversation",
    "Endpoints",
    "GenesysApi",
    "GenesysError",
    "GenesysPlatform",
    "NotFound",
    "PermissionMissing",
    "PlatformClock",
    "RateLimited",
    "RequestStats",
    "ResponseEvent",
    "RetryPolicy",
    "ServerError",
    "TransportError",
    "UnknownRegion",
    "discover",
    "resolve",
    "to_conversation",
]
