"""Injected failures and triggers on platform requests.

A fault answers a matching request with an error (or delays it, or spoils its answer's body:
emulator/corrupt.py); a trigger runs an action, such as a customer message, just before a matching
request is served, which is how race conditions are staged.
Paths are regular expressions searched (`re.search`) in the request path; a missing method matches any,
a missing `clientId` any client (one naming a client stages one organization's outage alone).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from genesys_emulator.spec import FaultSpec, TriggerSpec


@dataclass(slots=True)
class Fault:
    id: int
    method: str | None
    path: re.Pattern[str]
    status: int | None
    retry_after: float | None
    remaining: int | None
    latency_ms: int
    code: str | None
    message: str | None
    corrupt: str | None = None  # a corrupt.MODES entry: spoil the 2xx answer's body
    client_id: str | None = None  # only this client's requests; None: anyone's

    def to_json(self) -> dict[str, Any]:
        return {
            "clientId": self.client_id,
            "id": self.id,
            "method": self.method,
            "path": self.path.pattern,
            "status": self.status,
            "retryAfter": self.retry_after,
            "remaining": self.remaining,
            "latencyMs": self.latency_ms,
            "corrupt": self.corrupt,
        }


@dataclass(slots=True)
class Trigger:
    id: int
    method: str | None
    path: re.Pattern[str]
    remaining: int | None
    action: dict[str, Any]
    client_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "clientId": self.client_id,
            "id": self.id,
            "method": self.method,
            "path": self.path.pattern,
            "remaining": self.remaining,
            "action": self.action,
        }


def _matches(entry: Fault | Trigger, req_method: str, req_path: str, client_id: str | None) -> bool:
    return (
        (entry.method is None or entry.method == req_method)
        and (entry.client_id is None or entry.client_id == client_id)
        and entry.path.search(req_path) is not None
    )


class FaultBook:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.faults: list[Fault] = []
        self.triggers: list[Trigger] = []
        self._next = 1

    def __bool__(self) -> bool:
        return bool(self.faults or self.triggers)

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.triggers.clear()

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def clear_triggers(self) -> None:
        with self._lock:
            self.triggers.clear()

    def add_fault(self, spec: FaultSpec) -> Fault:
        with self._lock:
            fault = Fault(
                self._next,
                spec.method.upper() if spec.method else None,
                re.compile(spec.path),
                spec.status,
                spec.retryAfter,
                spec.times,
                spec.latencyMs,
                spec.code,
                spec.message,
                spec.corrupt,
                spec.clientId,
            )
            self._next += 1
            self.faults.append(fault)
            return fault

    def add_trigger(self, spec: TriggerSpec) -> Trigger:
        with self._lock:
            trigger = Trigger(
                self._next,
                spec.method.upper() if spec.method else None,
                re.compile(spec.path),
                spec.times,
                spec.action.model_dump(by_alias=True, exclude_none=True),
                spec.clientId,
            )
            self._next += 1
            self.triggers.append(trigger)
            return trigger

    def take_fault(self, method: str, path: str, client_id: str | None = None) -> Fault | None:
        """The first fault matching a request (of this client), used up once."""
        with self._lock:
            for fault in self.faults:
                if _matches(fault, method, path, client_id):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self.faults.remove(fault)
                    return fault
        return None

    def take_triggers(self, method: str, path: str, client_id: str | None = None) -> list[dict[str, Any]]:
        """The actions of every trigger matching a request (of this client), each used up once."""
        actions = []
        with self._lock:
            for trigger in list(self.triggers):
                if _matches(trigger, method, path, client_id):
                    actions.append(trigger.action)
                    if trigger.remaining is not None:
                        trigger.remaining -= 1
                        if trigger.remaining <= 0:
                            self.triggers.remove(trigger)
        return actions
