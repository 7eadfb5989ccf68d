"""When a platform request is repeated, and after how long (``http.PlatformHttp.request`` decides with it).

429 waits exactly ``Retry-After``; 5xx and timeouts are retried with jittered exponential backoff;
every other 4xx is never retried; all of it bounded by a ``RetryPolicy``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

# 503 and 429 mean "not processed", so any request may be repeated. 500/502/504 may come after the
# work was done (a gateway timing out on a slow backend), so only idempotent requests repeat on those.
RETRY_ALWAYS = frozenset({503})
RETRY_IF_IDEMPOTENT = frozenset({500, 502, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})
# Failures that happen before the request left this machine: always safe to repeat.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 6  # per request, first attempt included (the 401 renewal is extra)
    # No answer at all (refused, reset, timed out): a wrong URL or region must fail in seconds, not minutes.
    max_transport_attempts: int = 4
    # seconds before the first retry of a 5xx/timeout, doubled each time: `[sweep] retry_backoff`
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    max_retry_after: float = 300.0  # a longer Retry-After fails the request instead of stalling a sweep

    def backoff(self, attempt: int) -> float:
        """Equal jitter: half the exponential step fixed, half random, so retries spread out."""
        step = min(self.backoff_cap, self.backoff_base * 2.0 ** (attempt - 1))
        return step / 2 + random.uniform(0, step / 2)

    def may_retry_transport(self, attempt: int) -> bool:
        """Whether a request that got no answer on its `attempt`-th try may go out once more."""
        return attempt < min(self.max_attempts, self.max_transport_attempts)


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds: a number, or an HTTP date read against the answer's own ``Date``."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
        now = parsedate_to_datetime(response.headers.get_list("date")[-1])
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, (moment - now).total_seconds())
