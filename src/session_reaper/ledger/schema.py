"""The ledger's tables as the current code reads and writes them (the migrations build them).

Nothing here holds free text from a conversation or a credential: ids, rule names, verdicts, the
reaper's own reasons ("no message for 41m"), HTTP statuses and the platform's contextIds.
When this changes, add a migration in `migrations/versions/` — a ledger is upgraded, never dropped.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from session_reaper.ledger.types import UtcDateTime

metadata = MetaData()

ID = 128  # conversation, participant and message ids are UUIDs; room for other platforms' ids
ORG = 200  # an `[orgs.NAME]` name

sweeps = Table(
    "sweeps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner", String(200), nullable=False),
    Column("apply", Boolean, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("summary_json", JSON),
    Column("org", String(ORG)),  # None: the unnamed organization (no `[orgs]` in the config)
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sweep_id", Integer, ForeignKey("sweeps.id"), nullable=False),
    Column("conversation_id", String(ID), nullable=False),
    Column("queue_id", String(ID)),
    Column("channel", String(40)),
    Column("rule", String(40)),
    Column("decision", String(20), nullable=False),
    Column("outcome", String(20)),
    Column("reason", Text),
    Column("error", Text),
    Column("threshold_seconds", Float),
    Column("idle_seconds", Float),  # since the last message of a person or a bot
    Column("held_seconds", Float),  # how long the deciding rule's condition had held
    Column("platform_now", UtcDateTime),
    Column("decided_at", UtcDateTime, nullable=False),
    Column("outcome_at", UtcDateTime),
    Column("operator", String(200)),  # the console user who asked for it (close now, an approval)
    Column("org", String(ORG)),
    Index("ix_decisions_conversation", "conversation_id"),
    Index("ix_decisions_decided_at", "decided_at"),
    Index("ix_decisions_org_decided_at", "org", "decided_at"),
)

steps = Table(
    "steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("decision_id", Integer, ForeignKey("decisions.id"), nullable=False),
    Column("conversation_id", String(ID), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("participant_id", String(ID)),
    Column("intent_at", UtcDateTime, nullable=False),
    Column("outcome_at", UtcDateTime),
    Column("outcome", String(30)),
    Column("http_status", Integer),
    Column("context_id", String(ID)),
    Column("error_code", String(200)),
    Column("request_count", Integer),
    # Wall time until which the step's request may still be on its way or be carried out (set before
    # each attempt): recovery does not call the step "not sent" before then (fix 9).
    Column("in_flight_until", UtcDateTime),
    Index("ix_steps_conversation_kind", "conversation_id", "kind"),
    Index("ix_steps_decision", "decision_id"),
)
# Recovery reads the open intents on every start: keep that read small however long the journal.
Index(
    "ix_steps_pending",
    steps.c.id,
    sqlite_where=steps.c.outcome.is_(None),
    postgresql_where=steps.c.outcome.is_(None),
)

reaper_messages = Table(
    "reaper_messages",
    metadata,
    Column("message_id", String(ID), primary_key=True),
    Column("conversation_id", String(ID), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("sent_at", UtcDateTime, nullable=False),
    Index("ix_reaper_messages_conversation", "conversation_id"),
)

read_schedule = Table(
    "read_schedule",
    metadata,
    Column("conversation_id", String(ID), primary_key=True),
    Column("not_before", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime, nullable=False),
    Column("conversation_start", UtcDateTime, nullable=True),
    Column("policy", String(64), nullable=False),
    Column("participants_fingerprint", String(64), nullable=True),
    Column("org", String(ORG), nullable=True),
)

discovery_windows = Table(
    "discovery_windows",
    metadata,
    Column("window_key", String(ID), primary_key=True),
    Column("scanned_at", UtcDateTime, nullable=False),
)

leases = Table(
    "leases",
    metadata,
    Column("conversation_id", String(ID), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("claimed_at", UtcDateTime, nullable=False),
)

# Which replica sweeps which organization, until when (ledger/org_leases.py).
org_leases = Table(
    "org_leases",
    metadata,
    Column("org", String(ORG), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("claimed_at", UtcDateTime, nullable=False),
)

# The replicas alive (their heartbeat, until `expires_at`): how many share the organizations.
replicas = Table(
    "replicas",
    metadata,
    Column("owner", String(200), primary_key=True),
    Column("expires_at", UtcDateTime, nullable=False),
)

# The platform's last count of an OAuth client's requests that mattered (ledger/platform_counts.py):
# a restarted process, or a replica on the same client, paces its first requests on it. `client` is a
# digest of the API base and the client id (never a secret); times are wall time (UTC).
platform_counts = Table(
    "platform_counts",
    metadata,
    Column("client", String(64), primary_key=True),
    Column("allowed", Integer, nullable=False),
    Column("count", Integer, nullable=False),
    Column("holds_until", UtcDateTime, nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
)

# Queue names as the platform gave them (the report names queues by them); no name when the read was
# refused, with its HTTP status: the report then shows the id.
queues = Table(
    "queues",
    metadata,
    Column("queue_id", String(ID), primary_key=True),
    Column("name", String(400)),
    Column("status", Integer),
    Column("read_at", UtcDateTime, nullable=False),
)

# Decisions of rules with `approval = true`, waiting for an operator (shared by replicas): at most one
# waits per conversation (the partial unique index), the others are history.
pending_decisions = Table(
    "pending_decisions",
    metadata,
    Column("decision_id", String(64), primary_key=True),
    Column("conversation_id", String(ID), nullable=False),
    Column("rule", String(40)),
    Column("decision", String(20), nullable=False),
    Column("reason", Text),
    Column("queue_id", String(ID)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("status", String(20), nullable=False),
    Column("operator", String(200)),
    Column("resolved_at", UtcDateTime),
    Column("outcome", String(20)),
    Column("org", String(ORG)),  # None: the unnamed organization
    Index("ix_pending_decisions_conversation", "conversation_id"),
)
Index(
    "ux_pending_decisions_waiting",
    pending_decisions.c.conversation_id,
    unique=True,
    sqlite_where=pending_decisions.c.status == "pending",
    postgresql_where=pending_decisions.c.status == "pending",
)

# What people did in the console: who, when, what, on which conversation (the report lists them).
console_actions = Table(
    "console_actions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("operator", String(200), nullable=False),
    Column("action", String(20), nullable=False),
    Column("conversation_id", String(ID), nullable=False),
    Column("detail", Text),
    Column("org", String(ORG)),
    Index("ix_console_actions_at", "at"),
)
