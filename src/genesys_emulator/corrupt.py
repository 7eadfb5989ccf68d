"""Corrupt answers: a fault with `corrupt` spoils the body of a matching 2xx answer.

How a real platform (or a gateway in front of it) can answer badly, one mode each:
- `truncate`: the first half of the bytes (a connection cut mid-body);
- `drop-field`: every participant loses its `state` (on it and on its communications); a body
  without participants loses its first top-level field;
- `wrong-type`: `participants` becomes an object keyed by position instead of a list; elsewhere the
  first list becomes a string;
- `unknown-enum`: every participant and communication state becomes one no client knows;
- `huge-array`: `participants` (elsewhere the first list) repeated to `HUGE_ARRAY_LENGTH` entries.
"""

from __future__ import annotations

import json
from typing import Any, Final

MODES: Final = ("truncate", "drop-field", "wrong-type", "unknown-enum", "huge-array")
UNKNOWN_STATE: Final = "quiescent"
HUGE_ARRAY_LENGTH: Final = 20_000


def corrupt_body(body: bytes, mode: str) -> bytes:
    if mode == "truncate" or not body:
        return body[: len(body) // 2]
    try:
        data = json.loads(body)
    except ValueError:
        return body[: len(body) // 2]
    if isinstance(data, dict):
        _corrupt_object(data, mode)
    elif isinstance(data, list) and mode == "huge-array":
        data = _repeat(data)
    return json.dumps(data, separators=(",", ":")).encode()


def _corrupt_object(data: dict[str, Any], mode: str) -> None:
    participants = data.get("participants")
    if isinstance(participants, list):
        if mode == "wrong-type":
            data["participants"] = {str(i): p for i, p in enumerate(participants)}
        elif mode == "huge-array":
            data["participants"] = _repeat(participants)
        else:
            for participant in participants:
                if isinstance(participant, dict):
                    _states(participant, mode)
        return
    if mode == "drop-field" and data:
        data.pop(next(iter(data)))
        return
    key = next((k for k, v in data.items() if isinstance(v, list)), None)
    if key is None:
        return
    if mode == "wrong-type":
        data[key] = json.dumps(data[key])
    elif mode == "huge-array":
        data[key] = _repeat(data[key])


def _states(participant: dict[str, Any], mode: str) -> None:
    """Each state field of a participant and of its communications: dropped or made unknown."""
    holders = [participant] + [
        item
        for value in participant.values()
        if isinstance(value, list)
        for item in value
        if isinstance(item, dict)
    ]
    for holder in holders:
        if "state" not in holder:
            continue
        if mode == "drop-field":
            del holder["state"]
        elif mode == "unknown-enum":
            holder["state"] = UNKNOWN_STATE


def _repeat(items: list[Any]) -> list[Any]:
    seed = items or [{}]
    return (seed * (HUGE_ARRAY_LENGTH // len(seed) + 1))[:HUGE_ARRAY_LENGTH]
