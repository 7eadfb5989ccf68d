"""The transport: every platform request goes through ``PlatformHttp.request``.

It owns the cross-cutting rules so that no typed call can forget one:
- a bearer token from the cache, renewed once after a 401 and the request repeated once;
- pacing (``pacing.PacingLimiter``): a sliding 60 s window kept at 95% of the client's
  ``requests_per_minute``, shared by every concurrent task, and the platform's own count of the client
  (every answer's ``inin-ratelimit-*`` headers), so that restarts and replicas sharing a client stay
  below the limit together and 429 is the exception; a 429 pauses *all* requests until its
  ``Retry-After`` has passed (the limit is per OAuth client, so the next request of any task would be
  refused too);
- 429 waits exactly ``Retry-After``; 5xx and timeouts are retried with jittered exponential backoff;
  400/403/404 (and every other 4xx) are never retried; all of it bounded (``retries.py``);
- a request that may already have taken effect (a read timeout on a POST that sends a message) is not
  repeated: a duplicated closing text is worse than a reported failure;
- the platform clock is fed by every answer's ``Date`` header;
- the platform's count can outlive the process: ``on_count`` sees each one an answer reports, and
  ``seed`` paces a new process on one seen before it started (its predecessor's, a replica's);
- counters by method, status and operation, and an optional per-response hook for metrics.
Secrets (client secret, bearer tokens) never reach a log line or an exception message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypedDict

import httpx

from session_reaper.genesys.attempts import BEFORE_EACH_ATTEMPT, RequestStats, ResponseEvent
from session_reaper.genesys.auth import (
    TOKEN_FORM,
    AccessToken,
    ClientCredentials,
    TokenCache,
    parse_token_answer,
)
from session_reaper.genesys.clock import PlatformClock
from session_reaper.genesys.errors import (
    AuthenticationFailed,
    GenesysError,
    TransportError,
    error_for_response,
    parse_error_body,
)
from session_reaper.genesys.pacing import Monotonic, PacingLimiter, PlatformCount, Sleep
from session_reaper.genesys.regions import Endpoints
from session_reaper.genesys.retries import (
    IDEMPOTENT_METHODS,
    NOT_SENT,
    RETRY_ALWAYS,
    RETRY_IF_IDEMPOTENT,
    retry_after,
)
from session_reaper.genesys.retries import RetryPolicy as RetryPolicy  # callers configure it here
from session_reaper.redaction import redact, secrets_from_env

log = logging.getLogger("session_reaper.genesys")


class RequestOptions(TypedDict, total=False):
    """The keywords of ``PlatformHttp.request`` beyond its operation, for callers that pass them on."""

    json: Any
    params: Mapping[str, str | int] | None
    idempotent: bool | None
    max_attempts: int | None


class PlatformHttp:
    """Authenticated, paced, retrying requests to the platform. Use as an async context manager."""

    def __init__(
        self,
        endpoints: Endpoints,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        access_token: str | None = None,
        requests_per_minute: int = 300,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        on_response: Callable[[ResponseEvent], None] | None = None,
        on_count: Callable[[PlatformCount], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        monotonic: Monotonic = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """``on_count``: called on the loop with each valid count an answer reports (keep it short)."""
        self.endpoints = endpoints
        self.timeout = timeout  # seconds one request may go unanswered
        self.retry = retry or RetryPolicy()
        self.stats = RequestStats()
        self.clock = PlatformClock(monotonic)
        self.limiter = PacingLimiter(
            requests_per_minute, monotonic=monotonic, sleep=sleep, platform_count=True
        )
        self._monotonic = monotonic
        self._sleep = sleep
        self._on_response = on_response
        self._on_count = on_count
        self._credentials: ClientCredentials | None = None
        if client_id and client_secret and not access_token:
            self._credentials = ClientCredentials(client_id, client_secret)
        elif not access_token:
            raise AuthenticationFailed(
                "no credentials: set GENESYSCLOUD_OAUTHCLIENT_ID and GENESYSCLOUD_OAUTHCLIENT_SECRET "
                "(or GENESYSCLOUD_ACCESS_TOKEN)"
            )
        self._tokens = TokenCache(
            self._fetch_token if self._credentials else None, fixed_token=access_token, monotonic=monotonic
        )
        self._client = httpx.AsyncClient(
            base_url=endpoints.api_base,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"User-Agent": "session-reaper", "Accept": "application/json"},
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"PlatformHttp(api_base={self.endpoints.api_base!r}, login_base={self.endpoints.login_base!r})"

    async def __aenter__(self) -> PlatformHttp:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    def seed(self, known: PlatformCount) -> None:
        """Pace on a count reported before this process's first request: ``known.reset`` seconds from now.

        Call it before the first request (a count an answer reported since is newer and stays).
        """
        self.limiter.seed(known.allowed, known.count, self._monotonic() + known.reset)

    async def authenticate(self) -> None:
        """Get a token now, so that bad credentials fail before any work starts."""
        await self._tokens.token()

    async def request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        idempotent: bool | None = None,
        max_attempts: int | None = None,
    ) -> httpx.Response:
        """Send one platform operation; a 2xx answer, or the ``GenesysError`` that says what went wrong.

        ``idempotent`` defaults from the method (POST is not); pass True for a POST that only reads
        (the analytics query) or whose repetition is harmless. ``max_attempts`` lowers the retry
        policy's bound for this request (a caller with a cheaper fallback than retrying).
        """
        method = method.upper()
        limit = min(max_attempts or self.retry.max_attempts, self.retry.max_attempts)
        repeatable = idempotent if idempotent is not None else method in IDEMPOTENT_METHODS
        attempt = 0
        renewed = False
        # Some attempt may have been carried out though no success came back: a caller that journals
        # what it did must then read the platform rather than record a failure (it may have worked).
        maybe_applied = False
        while True:
            attempt += 1
            token = await self._tokens.token()
            ticket = await self.limiter.acquire()
            if (guard := BEFORE_EACH_ATTEMPT.get()) is not None:
                try:
                    # after the pacing wait, which may be long: right before it is sent
                    await guard.before_attempt()
                except BaseException:
                    self.limiter.answered(ticket, None)  # not sent: its room is released
                    raise
            started = self._monotonic()
            self._count(method, operation)
            try:
                response = await self._client.request(
                    method, path, json=json, params=params, headers={"Authorization": f"Bearer {token}"}
                )
            except BaseException as exc:
                self.limiter.answered(ticket, None)  # cancelled or no answer: its room is released
                if not isinstance(exc, httpx.TransportError):
                    raise
                maybe_applied = maybe_applied or not isinstance(exc, NOT_SENT)
                retry = (
                    self.retry.may_retry_transport(attempt)
                    and attempt < limit
                    and (repeatable or isinstance(exc, NOT_SENT))
                )
                self._after(method, path, operation, None, attempt, started, retry)
                if not retry:
                    lost = self._transport_error(exc, method, path, attempt)
                    lost.maybe_applied = maybe_applied
                    raise lost from None
                await self._sleep(self.retry.backoff(attempt))
                continue
            received = self._monotonic()
            reported = self.limiter.answered(ticket, response.headers, succeeded=response.status_code < 400)
            if reported is not None and self._on_count is not None:
                self._report_count(reported)
            self.clock.observe(response.headers.get_list("date"), received)
            status = response.status_code
            if guard is not None and status >= 400:
                # awaited (a journal write) after the room and the clock are taken care of: a
                # cancellation there must not leave the limiter's room taken. Not after a success: the
                # caller journals the step's outcome next, and once an outcome stands the mark is moot.
                await guard.answered()
            if status < 400:
                self._after(method, path, operation, status, attempt, started, False, ended=received)
                return response
            maybe_applied = maybe_applied or status in RETRY_IF_IDEMPOTENT
            if status == 401 and not renewed and self._tokens.renewable:
                # The token expired early or was revoked: one new token, then the same request once more.
                renewed = True
                self._after(method, path, operation, status, attempt, started, True, ended=received)
                self.stats.token_renewals_after_401 += 1
                await self._tokens.renew(token)
                attempt -= 1
                continue
            if status == 429:
                self.stats.rate_limited += 1
                delay = retry_after(response)
                retry = attempt < limit and (delay or 0) <= self.retry.max_retry_after
                self._after(method, path, operation, status, attempt, started, retry, ended=received)
                if not retry:
                    raise self._error(
                        response,
                        method,
                        path,
                        retry_after=delay,
                        attempts=attempt,
                        maybe_applied=maybe_applied,
                    )
                self.limiter.pause_until(
                    received + (delay if delay is not None else self.retry.backoff(attempt))
                )
                continue
            if status in RETRY_ALWAYS or (repeatable and status in RETRY_IF_IDEMPOTENT):
                retry = attempt < limit
                self._after(method, path, operation, status, attempt, started, retry, ended=received)
                if not retry:
                    raise self._error(response, method, path, attempts=attempt, maybe_applied=maybe_applied)
                delay = max(self.retry.backoff(attempt), min(retry_after(response) or 0, 30.0))
                await self._sleep(delay)
                continue
            self._after(method, path, operation, status, attempt, started, False, ended=received)
            raise self._error(response, method, path, maybe_applied=maybe_applied)

    async def _fetch_token(self) -> AccessToken:
        """One client-credentials token. Refused credentials fail at once; 429/5xx/timeouts retry."""
        assert self._credentials is not None
        path = "/oauth/token"
        attempt = 0
        while True:
            attempt += 1
            started = self._monotonic()
            self._count("POST", "token")
            self.stats.token_requests += 1
            try:
                response = await self._client.post(
                    f"{self.endpoints.login_base}{path}",
                    data=dict(TOKEN_FORM),
                    headers={"Authorization": self._credentials.basic_authorization()},
                )
            except httpx.TransportError as exc:
                retry = self.retry.may_retry_transport(attempt)
                self._after("POST", path, "token", None, attempt, started, retry)
                if not retry:
                    raise self._transport_error(exc, "POST", path, attempt) from None
                await self._sleep(self.retry.backoff(attempt))
                continue
            received = self._monotonic()
            self.clock.observe(response.headers.get_list("date"), received)
            status = response.status_code
            if status < 400:
                self._after("POST", path, "token", status, attempt, started, False, ended=received)
                try:
                    body = response.json()
                except ValueError:
                    body = {}
                return parse_token_answer(body if isinstance(body, Mapping) else {}, received)
            retryable = status == 429 or status >= 500
            retry = retryable and attempt < self.retry.max_attempts
            self._after("POST", path, "token", status, attempt, started, retry, ended=received)
            if not retry:
                error = self._error(response, "POST", path)
                if status in (400, 401, 403):
                    # The login service answers bad client credentials with 400/401 (invalid_client).
                    raise AuthenticationFailed(
                        f"the OAuth client credentials were refused: {error.message}",
                        status=status,
                        code=error.code,
                        context_id=error.context_id,
                        method="POST",
                        path=path,
                    )
                raise error
            await self._sleep(max(self.retry.backoff(attempt), retry_after(response) or 0))

    def _error(
        self,
        response: httpx.Response,
        method: str,
        path: str,
        *,
        retry_after: float | None = None,
        attempts: int = 1,
        maybe_applied: bool = False,
    ) -> GenesysError:
        body = parse_error_body(response.content)
        error = error_for_response(
            response.status_code,
            body,
            method=method,
            path=path,
            context_id=response.headers.get("inin-correlation-id"),
            retry_after=retry_after,
        )
        error.message = self._scrub(error.message)
        error.args = (error.message,)
        if attempts > 1:
            error.message = f"{error.message} (gave up after {attempts} attempts)"
            error.args = (error.message,)
        error.maybe_applied = maybe_applied
        return error

    def _transport_error(
        self, exc: httpx.TransportError, method: str, path: str, attempt: int
    ) -> TransportError:
        kind = type(exc).__name__
        detail = self._scrub(str(exc)) or kind
        return TransportError(
            f"no answer from the platform after {attempt} attempt(s): {kind}: {detail}",
            method=method,
            path=path,
        )

    def _scrub(self, text: str) -> str:
        own = (*self._tokens.secrets(), self._credentials.client_secret if self._credentials else "")
        return redact(text, (*own, *secrets_from_env()))

    def _report_count(self, reported: PlatformCount) -> None:
        assert self._on_count is not None
        try:
            self._on_count(reported)
        except Exception:  # like a metrics hook: never breaks a platform call
            log.exception("on_count hook failed")

    def _count(self, method: str, operation: str) -> None:
        self.stats.total += 1
        self.stats.by_method[method] += 1
        self.stats.by_operation[operation] += 1

    def _after(
        self,
        method: str,
        path: str,
        operation: str,
        status: int | None,
        attempt: int,
        started: float,
        will_retry: bool,
        *,
        ended: float | None = None,
    ) -> None:
        self.stats.by_status[status or 0] += 1
        if will_retry:
            self.stats.retries += 1
        seconds = (self._monotonic() if ended is None else ended) - started
        log.debug("platform %s %s -> %s in %.3fs (attempt %d)", method, path, status, seconds, attempt)
        if self._on_response is not None:
            try:
                self._on_response(
                    ResponseEvent(method, path, operation, status, attempt, started, seconds, will_retry)
                )
            except Exception:  # a metrics hook must never break a platform call
                log.exception("on_response hook failed")
