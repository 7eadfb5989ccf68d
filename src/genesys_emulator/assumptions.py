"""Every [MODEL] assumption of PLATFORM.md, in one place.

These are behaviours we could not read from a primary source (the SDK, the platform's help pages). The
emulator implements them as written here; the reaper must stay correct if the real platform differs.
Change an assumption here, never inline.
"""

from __future__ import annotations

from typing import Final

# --- Ending conversations ---------------------------------------------------------------------------
# Disconnecting the last active non-customer participant (agent, acd, workflow, ...) ends the
# conversation: the customer leg is disconnected by its peer.
CUSTOMER_END_DISCONNECT_TYPE: Final = "peer"
# Who disconnected a participant, by cause.
API_DISCONNECT_TYPE: Final = "client"  # PATCH on a participant or on the conversation
TEARDOWN_DISCONNECT_TYPE: Final = "system"  # POST /api/v2/conversations/{id}/disconnect
INACTIVITY_DISCONNECT_TYPE: Final = "inactivity"  # the queue's own message inactivity timer
# Default disconnect types of participants created already ended, when the spec names none.
CREATED_ENDED_DISCONNECT_TYPE: Final = {"customer": "endpoint", "acd": "transfer", "workflow": "transfer"}
CREATED_ENDED_DISCONNECT_TYPE_OTHER: Final = "client"
# Participants whose purpose counts as "the customer side": they never keep a conversation alive alone.
CUSTOMER_PURPOSES: Final = frozenset({"customer", "external"})

# --- Offers, parking, returning guests ------------------------------------------------------------------
# Participant order in a conversation is not documented; the emulator lists legs in the order they
# were created (a guest's new leg after the old one) unless the admin spec lists them otherwise.
# A leg connects (connectedTime) when the offer is accepted; an alerting/offering leg has no
# connectedTime. PATCH {"state": "disconnected"} on an offered leg withdraws the offer (the leg ends,
# disconnectType client, never connected).
# Only a connected or parked communication can send a message; an offered one answers 400.
STATES_THAT_CAN_SEND: Final = frozenset({"connected", "parked"})
# Parking sets the participant's parkTime; resuming sets resumeTime (both kept from the latest park).
# A message from the guest resumes every parked agent leg (state connected, resumeTime = now): the
# platform routes the reply back to the agent who parked it.
GUEST_MESSAGE_RESUMES_PARKED: Final = True

# --- After-call work ---------------------------------------------------------------------------------
# An agent with wrapupRequired enters after-call work when disconnected, until a wrap-up is applied or
# wrapupTimeoutMs passes; without wrapupTimeoutMs it waits forever. On timeout (and on teardown) the
# platform applies this system wrap-up. The id and name are those of Genesys Cloud's built-in code.
SYSTEM_WRAPUP_CODE_ID: Final = "7fb334b0-0e9e-11e4-9191-0800200c9a66"
SYSTEM_WRAPUP_CODE_NAME: Final = "ININ-WRAP-UP-TIMEOUT"
# A second wrap-up on a participant that already has one is refused with this status and code.
WRAPUP_ALREADY_APPLIED_STATUS: Final = 409
WRAPUP_ALREADY_APPLIED_CODE: Final = "conversation.wrapup.already.applied"
# Wrap-up codes every queue offers (the `.../wrapupcodes` answer), besides the system code.
DEFAULT_WRAPUP_CODES: Final = (
    ("code-resolved", "Resolved"),
    ("code-abandoned", "Abandoned"),
    ("code-follow-up", "Follow-up needed"),
)

# --- Errors -----------------------------------------------------------------------------------------
# PATCH (disconnect) on a participant that already left.
NOT_CONNECTED_STATUS: Final = 400
NOT_CONNECTED_CODE: Final = "conversation.participant.not.connected"
# Sending a message from a communication that is no longer connected.
NOT_CONNECTED_SEND_CODE: Final = "conversation.communication.not.connected"

# --- Analytics ----------------------------------------------------------------------------------------
# `conversationEnd` is set when every participant has ended and no after-call work is pending.
# Analytics sees changes only after `analytics_lag` seconds (World setting).
# The longest interval one details query accepts (the platform's help says "windows of at most 31 days").
MAX_INTERVAL_DAYS: Final = 31
MAX_PAGE_SIZE: Final = 100
DEFAULT_PAGE_SIZE: Final = 25

# --- Reads --------------------------------------------------------------------------------------------
# A state change is visible to reads after `propagation_delay` seconds (World setting, or a conversation's
# own `propagationDelaySeconds`), so a close must be verified by reading until it shows. Writes always act
# on the true state.

# --- Queue inactivity timer ----------------------------------------------------------------------------
# When a queue enables message inactivity handling, every message (either side) re-arms
# `inactivityTimeout` = last message + timeoutSeconds. When it passes, action DISCONNECT disconnects
# every active participant with disconnectType `inactivity`; SEND_TO_ARCHITECT_FLOW disconnects the
# agents and acd legs with `inactivity` and connects a workflow participant.

# --- Permissions -----------------------------------------------------------------------------------------
# Operations whose permissions no primary source lists are modelled as needing none beyond a valid token;
# see docs/platform-notes.md for the sources of the others.

# --- Rate limit -------------------------------------------------------------------------------------------
# Per OAuth client, a sliding window of 60 s of *real* (monotonic) time: what a rate-limited client lives
# by is wall time, not the virtual clock a test may jump. The token endpoint and admin routes never count.
RATE_WINDOW_SECONDS: Final = 60.0
# Every answer to a request with a valid token (2xx, 4xx, 429, injected faults) carries the client's
# count (docs/platform-notes.md has what the public sources show). Their exact semantics are not
# documented; the emulator's: `allowed` = the client's limit per window; `count` = the requests
# counted in the sliding window now (this one included; a refused request is not counted); `reset` =
# whole seconds, at least 1, until the count next falls (the oldest counted request leaves the
# window), 60 when nothing is counted. Answers to a missing/invalid token and the token endpoint
# carry none. The reaper reads them conservatively (`count` will not fall before `reset`), which
# holds whether the real platform's window is sliding or fixed.
RATE_HEADER_ALLOWED: Final = "inin-ratelimit-allowed"
RATE_HEADER_COUNT: Final = "inin-ratelimit-count"
RATE_HEADER_RESET: Final = "inin-ratelimit-reset"

# --- Organization -------------------------------------------------------------------------------------
ORGANIZATION_ID: Final = "6c3e3d4c-5a7b-4a53-9a6e-3b1f0e2a0001"
ORGANIZATION_NAME: Final = "session-reaper emulator"
DIVISION_ID: Final = "b0a4f1de-5f43-4ab4-9c0d-2d6c1a7e0001"
DIVISION_NAME: Final = "Home"

# --- Limits of the emulator itself -------------------------------------------------------------------
# Not platform behaviour but where the emulator stops modelling: the virtual clock stays within these
# years and a duration in an admin body (`ago`, `advanceSeconds`, a trigger's `seconds`) within a
# century, so that no later `now + ttl` or `now - ago` overflows Python's datetime (found by schemathesis).
CLOCK_MIN_YEAR: Final = 1971
CLOCK_MAX_YEAR: Final = 9000
MAX_ADMIN_DURATION_SECONDS: Final = 100 * 365 * 86400

# --- Queues and their notifications -------------------------------------------------------------------
# Reading a queue needs this permission (the platform's naming convention; no source lists it), and a
# client-credentials client may subscribe to a queue's conversation topic with it (undocumented).
QUEUE_VIEW_PERMISSION: Final = "routing:queue:view"
