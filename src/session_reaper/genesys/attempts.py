"""What each attempt of a platform request tells: the guard told before and after it (the engine's
`Guard` port, which its fence implements), the counters of what was sent, and the event a metrics hook
receives. Kept apart from the transport (`http.py`), which fills them in, so that the adapter, the
service's metrics and the benchmarks read them without the transport's internals.
"""

from __future__ import annotations

import contextvars
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from session_reaper.engine.ports import Guard

# Told of each attempt of the request under way (a retry included): `before_attempt` right before it
# goes out (raising stops it unsent), `answered` once an answer came back. Set by the platform adapter
# around one write: the engine's fence, which stops an act whose step another look settled, or whose
# conversation another reaper holds, meanwhile, and marks in the journal what may still be on its way.
BEFORE_EACH_ATTEMPT: contextvars.ContextVar[Guard | None] = contextvars.ContextVar(
    "before_each_attempt", default=None
)


@dataclass
class RequestStats:
    """What this client sent. ``total`` counts every attempt that went out, token requests included."""

    total: int = 0
    by_status: Counter[int] = field(default_factory=Counter)  # 0 = no answer (timeout, connection)
    by_method: Counter[str] = field(default_factory=Counter)
    by_operation: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0  # 429 answers seen
    retries: int = 0  # attempts repeated after a 429, 5xx or transport failure
    token_requests: int = 0
    token_renewals_after_401: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "byStatus": {str(k): v for k, v in sorted(self.by_status.items())},
            "byMethod": dict(sorted(self.by_method.items())),
            "byOperation": dict(sorted(self.by_operation.items())),
            "rateLimited": self.rate_limited,
            "retries": self.retries,
            "tokenRequests": self.token_requests,
        }


@dataclass(frozen=True, slots=True)
class ResponseEvent:
    """One attempt and how it ended, for metrics. ``status`` is None when no answer came back."""

    method: str
    path: str
    operation: str
    status: int | None
    attempt: int
    started: float  # monotonic, when the attempt was sent
    seconds: float  # until its answer (or failure)
    will_retry: bool
