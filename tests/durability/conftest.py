"""Durability fixtures: many real reaper processes, one emulator, a shared ledger."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from tests.ledger.conftest import postgres_base, postgres_url  # noqa: F401  (fixtures, re-exported)
from tests.scenarios.conftest import conversation_view  # noqa: F401  (fixture, re-exported)

# Answers the platform gives before doing anything, and which the reaper retries by design.
_NOT_CARRIED_OUT = (429, 503)


def writes_per_conversation(
    requests: list[dict[str, Any]],
    ids: list[str],
    *,
    refused_too: bool = False,
    purposes: Mapping[str, str] | None = None,
) -> dict[str, Counter[str]]:
    """For each conversation, how many successful writes of each kind reached the platform.

    `refused_too`: count the writes the platform refused as well (but a 429 or a 503, refused before
    anything was done). A write sent a second time is often refused — a second disconnect of a
    participant who already left answers 400 — and counting successes alone would never see it.
    `purposes` (participant id -> purpose): a participant's disconnect is counted as
    "disconnect:<purpose>" ("disconnect:agent", "disconnect:customer"), not as "disconnect:participant"
    whoever it disconnected.
    """
    counts: dict[str, Counter[str]] = {cid: Counter() for cid in ids}
    for request in requests:
        if request["method"] not in ("POST", "PATCH"):
            continue
        status = request["status"]
        if status in _NOT_CARRIED_OUT or (status >= 400 and not refused_too):
            continue
        path = request["path"]
        for cid in ids:
            if cid in path:
                counts[cid][_kind(request["method"], path, purposes)] += 1
                break
    return counts


def _kind(method: str, path: str, purposes: Mapping[str, str] | None) -> str:
    if path.endswith("/attributes"):
        return "annotate"
    if path.endswith("/messages"):
        return "text"
    if path.endswith("/wrapup"):
        return "wrapup"
    if path.endswith("/disconnect"):
        return "teardown"
    if "/participants/" in path:
        if purposes is None:
            return "disconnect:participant"
        participant = path.rsplit("/participants/", 1)[1]
        return f"disconnect:{purposes.get(participant, 'unknown participant')}"
    return f"{method} conversation"
