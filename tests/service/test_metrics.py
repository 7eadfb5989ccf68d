"""The Metrics registry: series names, labels and values as Prometheus reads them."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from session_reaper.core.results import DecisionLine, Outcome
from session_reaper.telemetry.metrics import Metrics


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = metrics.exposition().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return samples(metrics).get((name, frozenset(labels.items())))


def test_every_series_is_exposed_before_the_first_sweep() -> None:
    metrics = Metrics()
    names = {name for name, _ in samples(metrics)}
    assert value(metrics, "session_reaper_sweeps_total", outcome="ok") == 0
    assert value(metrics, "session_reaper_rate_limited_total") == 0
    assert {
        "session_reaper_sweep_duration_seconds_count",
        "session_reaper_conversations_in_scope",
        "session_reaper_last_sweep_timestamp_seconds",
    } <= names
    assert metrics.content_type.startswith("text/plain")


def test_decisions_are_counted_by_rule_decision_and_outcome() -> None:
    metrics = Metrics()
    for _ in range(3):
        metrics.observe_decision(DecisionLine("c", "idle", "close", Outcome.DONE, "idle 45m"))
    metrics.observe_decision(DecisionLine("d", None, "skip", Outcome.SKIPPED, "customer wrote 2m ago"))

    decisions = "session_reaper_decisions_total"
    assert value(metrics, decisions, rule="idle", decision="close", outcome="done") == 3
    assert value(metrics, decisions, rule="none", decision="skip", outcome="skipped") == 1


def test_request_totals_are_folded_in_as_deltas_and_429s_are_counted() -> None:
    metrics = Metrics()
    metrics.observe_request_totals({("GET", 200): 2, ("PATCH", 429): 1})
    metrics.observe_request_totals({("GET", 200): 5, ("PATCH", 429): 1, ("POST", "error"): 1})

    assert value(metrics, "session_reaper_api_requests_total", method="GET", status="200") == 5
    assert value(metrics, "session_reaper_api_requests_total", method="PATCH", status="429") == 1
    assert value(metrics, "session_reaper_api_requests_total", method="POST", status="error") == 1
    assert value(metrics, "session_reaper_rate_limited_total") == 1


def test_a_sweep_sets_duration_scope_and_time() -> None:
    metrics = Metrics(wall_clock=lambda: 1_800_000_000.0)
    metrics.observe_sweep("ok", 0.7, in_scope=12)
    metrics.observe_sweep("aborted", 0.2, in_scope=None)

    assert value(metrics, "session_reaper_sweeps_total", outcome="ok") == 1
    assert value(metrics, "session_reaper_sweeps_total", outcome="aborted") == 1
    assert value(metrics, "session_reaper_sweep_duration_seconds_count") == 2
    assert value(metrics, "session_reaper_sweep_duration_seconds_bucket", le="1.0") == 2
    assert value(metrics, "session_reaper_conversations_in_scope") == 12  # an aborted pass keeps the last
    assert value(metrics, "session_reaper_last_sweep_timestamp_seconds") == 1_800_000_000.0


def test_registries_are_independent() -> None:
    one, two = Metrics(), Metrics()
    one.observe_sweep("ok", 1.0, 1)
    assert value(two, "session_reaper_sweeps_total", outcome="ok") == 0
