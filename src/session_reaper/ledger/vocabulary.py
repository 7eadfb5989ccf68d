"""The words the ledger accepts. A typo in an outcome would silently hide a close from every report,
so writes are checked against these sets instead of trusting free strings."""

from __future__ import annotations

from session_reaper.core.vocabulary import ACTIONS as ACTIONS
from session_reaper.core.vocabulary import CLOSING_DECISIONS as CLOSING_DECISIONS
from session_reaper.core.vocabulary import DECISION_OUTCOMES as DECISION_OUTCOMES
from session_reaper.core.vocabulary import EFFECTIVE_STEP_OUTCOMES as EFFECTIVE_STEP_OUTCOMES
from session_reaper.core.vocabulary import INACTION_OUTCOMES as INACTION_OUTCOMES
from session_reaper.core.vocabulary import MESSAGE_KINDS as MESSAGE_KINDS
from session_reaper.core.vocabulary import STEP_OUTCOMES as STEP_OUTCOMES
from session_reaper.redaction import redact

# The ledger calls the actions decisions (its column's name).
DECISIONS = ACTIONS

ERROR_MAX = 500
# Belt and braces: errors come from our own exceptions, which never carry credentials; should one
# ever quote a header, a form body or a URL, the program's one redactor keeps it out of the journal.


def check(value: str, allowed: frozenset[str], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r} (one of: {', '.join(sorted(allowed))})")
    return value


def scrub(error: str | None) -> str | None:
    if error is None:
        return None
    cleaned = redact(error)
    return cleaned if len(cleaned) <= ERROR_MAX else cleaned[: ERROR_MAX - 1] + "…"
