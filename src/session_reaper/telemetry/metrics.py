"""What `serve` exposes on /metrics, in Prometheus' text format, from its own registry.

Series (all prefixed `session_reaper_`):
  sweeps_total{outcome}                    passes by how they ended: ok, failed (some action failed),
                                           aborted (credentials or a permission missing), error, stopped
  decisions_total{rule,decision,outcome}   one per conversation decided (rule "none" when no rule applied)
  api_requests_total{method,status}        platform requests by HTTP status ("error" when no answer came)
  rate_limited_total                       429 answers from the platform
  sweep_duration_seconds                   histogram of pass durations
  conversations_in_scope                   conversations the last completed pass found in scope
  last_sweep_timestamp_seconds             Unix time the last pass ended (alert when it gets old)
Events mode (`[sweep] mode = "events"`):
  events_received_total{topic}             notification events received (ignored ones included)
  events_ignored_total{topic}              events that could not be read: counted, never acted on
  socket_reconnects_total                  notification sockets opened again after a gap
  socket_up                                1 while every notification socket is open, else 0
  event_lag_seconds                        histogram: platform time of the change -> handled
  timers_armed                             conversations with a re-check timer set
  polling_fallback_queues                  queues polled because the platform rejected their topic

With organizations (`Metrics(orgs=True)`), every series above but none other carries an `org` label
first, and each organization's loop counts through its own view (`metrics.for_org(name)`); one more
series says which organizations this replica holds:
  org_held{org}                            1 while this replica sweeps the org (its lease), else 0
Without organizations the series are exactly as before: no `org` label.

A registry per `Metrics` keeps tests and several services in one process apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

SWEEP_OUTCOMES = ("ok", "failed", "aborted", "error", "stopped")
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class Decided(Protocol):
    """What a decision line (`results.DecisionLine`) must offer to be counted."""

    @property
    def rule(self) -> str | None: ...
    @property
    def decision(self) -> str: ...
    @property
    def outcome(self) -> str: ...


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, *, wall_clock: Callable[[], float] = time.time, orgs: bool = False) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._wall_clock = wall_clock
        self.orgs = orgs
        self._requests_seen: dict[tuple[str, str], int] = {}
        r = self.registry
        org = ["org"] if orgs else []
        self.sweeps = Counter(
            "session_reaper_sweeps", "Sweep passes by outcome.", [*org, "outcome"], registry=r
        )
        self.decisions = Counter(
            "session_reaper_decisions",
            "Conversations decided, by rule, decision and outcome.",
            [*org, "rule", "decision", "outcome"],
            registry=r,
        )
        self.api_requests = Counter(
            "session_reaper_api_requests",
            "Platform API requests by method and status.",
            [*org, "method", "status"],
            registry=r,
        )
        self.rate_limited = Counter(
            "session_reaper_rate_limited", "Platform answers 429 Too Many Requests.", org, registry=r
        )
        self.sweep_duration = Histogram(
            "session_reaper_sweep_duration_seconds",
            "Duration of sweep passes.",
            org,
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.in_scope = Gauge(
            "session_reaper_conversations_in_scope",
            "Conversations in scope at the last completed pass.",
            org,
            registry=r,
        )
        self.last_sweep = Gauge(
            "session_reaper_last_sweep_timestamp_seconds",
            "Unix time at which the last pass ended.",
            org,
            registry=r,
        )
        self.events = Counter(
            "session_reaper_events_received", "Notification events received, by topic.", ["topic"], registry=r
        )
        self.events_ignored = Counter(
            "session_reaper_events_ignored",
            "Notification events that could not be read (counted, never acted on).",
            ["topic"],
            registry=r,
        )
        self.reconnects = Counter(
            "session_reaper_socket_reconnects", "Notification sockets opened again after a gap.", registry=r
        )
        self.socket_up = Gauge(
            "session_reaper_socket_up", "1 while every notification socket is open.", registry=r
        )
        self.event_lag = Histogram(
            "session_reaper_event_lag_seconds",
            "Platform time of a change to the moment its event was handled.",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.timers_armed = Gauge(
            "session_reaper_timers_armed", "Conversations with a re-check timer set.", registry=r
        )
        self.fallback_queues = Gauge(
            "session_reaper_polling_fallback_queues",
            "Queues polled because the platform rejected their topic.",
            registry=r,
        )
        self.org_held = (
            Gauge(
                "session_reaper_org_held",
                "1 while this replica holds the organization's lease and sweeps it.",
                ["org"],
                registry=r,
            )
            if orgs
            else None
        )
        if not orgs:
            for outcome in SWEEP_OUTCOMES:
                self.sweeps.labels(outcome=outcome)  # every outcome is a series from the start, at 0

    def for_org(self, org: str) -> OrgMetrics:
        """What one organization's loop counts through: the same series, labelled with its name."""
        if not self.orgs:
            raise ValueError("these metrics have no org label: create them with Metrics(orgs=True)")
        for outcome in SWEEP_OUTCOMES:
            self.sweeps.labels(org=org, outcome=outcome)
        return OrgMetrics(self, org)

    def observe_decision(self, line: Decided) -> None:
        self._decision({}, line)

    def observe_request(self, method: str, status: int | str, count: int = 1) -> None:
        self._request({}, method, status, count)

    def observe_request_totals(self, totals: Mapping[tuple[str, int | str], int]) -> None:
        """Fold a cumulative (method, status) -> count snapshot in: only what is new since the last call."""
        for (method, status), total in totals.items():
            key = (method.upper(), str(status))
            new = total - self._requests_seen.get(key, 0)
            if new > 0:
                self.observe_request(*key, count=new)
            self._requests_seen[key] = max(total, self._requests_seen.get(key, 0))

    def observe_sweep(self, outcome: str, duration_seconds: float, in_scope: int | None) -> None:
        self._sweep({}, outcome, duration_seconds, in_scope)

    def observe_event(self, topic: str, lag_seconds: float | None) -> None:
        self.events.labels(topic=topic).inc()
        if lag_seconds is not None:
            self.event_lag.observe(lag_seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    # the series, for any labels (none, or {"org": name})

    def _decision(self, org: dict[str, str], line: Decided) -> None:
        outcome = str(line.outcome)
        self.decisions.labels(**org, rule=line.rule or "none", decision=line.decision, outcome=outcome).inc()

    def _request(self, org: dict[str, str], method: str, status: int | str, count: int) -> None:
        self.api_requests.labels(**org, method=method.upper(), status=str(status)).inc(count)
        if str(status) == "429":
            (self.rate_limited.labels(**org) if org else self.rate_limited).inc(count)

    def _sweep(
        self, org: dict[str, str], outcome: str, duration_seconds: float, in_scope: int | None
    ) -> None:
        self.sweeps.labels(**org, outcome=outcome).inc()
        (self.sweep_duration.labels(**org) if org else self.sweep_duration).observe(duration_seconds)
        if in_scope is not None:
            (self.in_scope.labels(**org) if org else self.in_scope).set(in_scope)
        (self.last_sweep.labels(**org) if org else self.last_sweep).set(self._wall_clock())


class OrgMetrics:
    """One organization's view of the metrics (`Metrics.for_org`): the observe calls of `Metrics`."""

    def __init__(self, metrics: Metrics, org: str) -> None:
        self.metrics = metrics
        self.org = org
        self._labels = {"org": org}

    def observe_decision(self, line: Decided) -> None:
        self.metrics._decision(self._labels, line)

    def observe_request(self, method: str, status: int | str, count: int = 1) -> None:
        self.metrics._request(self._labels, method, status, count)

    def observe_sweep(self, outcome: str, duration_seconds: float, in_scope: int | None) -> None:
        self.metrics._sweep(self._labels, outcome, duration_seconds, in_scope)

    @property
    def content_type(self) -> str:
        return self.metrics.content_type

    def exposition(self) -> bytes:
        return self.metrics.exposition()

    def held(self, holding: bool) -> None:
        if self.metrics.org_held is not None:
            self.metrics.org_held.labels(org=self.org).set(1 if holding else 0)
