"""The ledger: audit journal (sweeps, decisions, steps with intent and outcome, the reaper's own
message ids) and conversation leases, on SQLite (default, WAL) or PostgreSQL (many replicas).

    ledger = Ledger.open("sqlite:///session-reaper.db")     # or postgresql://user@host/db

No column stores a token, a secret or message text.
"""

from __future__ import annotations

from session_reaper.core.model import PendingStep, ScheduledRead
from session_reaper.ledger.engine import LedgerUrlError, normalize_url
from session_reaper.ledger.history import Failure, Grouping, RequestCost
from session_reaper.ledger.journal import (
    Clock,
    Ledger,
    default_owner,
)
from session_reaper.ledger.lease_journal import DEFAULT_LEASE_TTL
from session_reaper.ledger.migrate import LedgerVersionError
from session_reaper.ledger.opening import LedgerUnavailable

__all__ = [
    "DEFAULT_LEASE_TTL",
    "Clock",
    "Failure",
    "Grouping",
    "Ledger",
    "LedgerUnavailable",
    "LedgerUrlError",
    "LedgerVersionError",
    "PendingStep",
    "RequestCost",
    "ScheduledRead",
    "default_owner",
    "normalize_url",
]
