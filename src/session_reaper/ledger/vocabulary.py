"""The words the ledger accepts. A typo in an outcome would silently hide a close from every report,
so writes are checked against these sets instead of trusting free strings."""

from __future__ import annotations

from session_reaper.redaction import redact

DECISIONS = frozenset({"close", "warn", "teardown", "wrapup", "skip", "defer"})
DECISION_OUTCOMES = frozenset(
    {"done", "dry-run", "skipped", "deferred", "cancelled", "failed", "interrupted"}
)
STEP_OUTCOMES = frozenset(
    {
        "done",
        "already-done",  # the platform said the effect was already there (e.g. participant gone)
        "failed",
        "cancelled",
        "resolved-on-recovery",  # generic: found open after a crash and settled by reading the platform
        "resolved-done",  # found open after a crash; the platform shows its effect
        "resolved-not-sent",  # found open after a crash; the platform shows no effect: it never arrived
        "resolved-gone",  # found open after a crash; the conversation no longer exists
    }
)
# Outcomes that mean "the step's effect is in place": a restarted sweep must not send it again.
EFFECTIVE_STEP_OUTCOMES = frozenset({"done", "already-done", "resolved-done"})
MESSAGE_KINDS = frozenset({"warning", "closing"})
CLOSING_DECISIONS = ("close", "teardown")
# Decisions that changed nothing on the platform: the bulk of the journal, and what `prune` may drop.
INACTION_OUTCOMES = ("skipped", "deferred", "dry-run")

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
