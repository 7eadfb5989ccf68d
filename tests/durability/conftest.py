"""Durability fixtures: many real reaper processes, one emulator, a shared ledger."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.ledger.conftest import postgres_base, postgres_url  # noqa: F401  (fixtures, re-exported)
from tests.scenarios.conftest import conversation_view  # noqa: F401  (fixture, re-exported)


def writes_per_conversation(requests: list[dict[str, Any]], ids: list[str]) -> dict[str, Counter[str]]:
    """For each conversation, how many successful writes of each kind reached the platform."""
    counts: dict[str, Counter[str]] = {cid: Counter() for cid in ids}
    for request in requests:
        if request["method"] not in ("POST", "PATCH") or request["status"] >= 400:
            continue
        path = request["path"]
        for cid in ids:
            if cid in path:
                counts[cid][_kind(request["method"], path)] += 1
                break
    return counts


def _kind(method: str, path: str) -> str:
    if path.endswith("/attributes"):
        return "annotate"
    if path.endswith("/messages"):
        return "text"
    if path.endswith("/wrapup"):
        return "wrapup"
    if path.endswith("/disconnect"):
        return "teardown"
    if "/participants/" in path:
        return "disconnect:participant"
    return f"{method} conversation"
