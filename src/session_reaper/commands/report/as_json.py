"""`report --json`: the figures as one JSON object, with the spread of each distribution."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from session_reaper.commands.report.figures import ACTIONS, ReportData, iso, percentile, round2


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _spread(values: Sequence[float]) -> dict[str, Any]:
    return {
        "closes": len(values),
        "medianMinutes": _round(percentile(values, 50)),
        "p90Minutes": _round(percentile(values, 90)),
        "maxMinutes": _round(max(values, default=None)),
    }


def to_json(data: ReportData) -> dict[str, Any]:
    """The report's figures as one JSON object (camelCase, times in ISO 8601 UTC)."""
    return {
        "period": {
            "since": iso(data.since),
            "until": iso(data.until),
            "firstSweepAt": iso(data.first_sweep_at),
            "lastSweepAt": iso(data.last_sweep_at),
        },
        "figures": data.figures(),
        "sweeps": {"total": data.sweeps, "applied": data.applied_sweeps},
        "closes": {
            "total": data.closes,
            "byRule": dict(data.by_rule),
            "byQueue": dict(data.by_queue),
            "byHour": dict(data.by_hour),
        },
        "actions": {
            **{kind: data.actions.get(kind, 0) for kind in ACTIONS},
            "cancelled": data.cancelled,
            "byRule": dict(data.acted_by_rule),
        },
        "failures": [f.to_json() for f in data.failures],
        "idleBeforeClose": _spread(data.idle_minutes),
        "pastThreshold": _spread(data.past_threshold_minutes),
        "apiRequests": data.api_requests,
        "requestsPerClose": round2(data.requests_per_close),
        "consoleActions": [a.to_json() for a in data.console_actions],
        # each organization's figures, by name (only when the ledger's rows name organizations)
        "byOrg": {
            org.org: {
                "sweeps": org.sweeps,
                "appliedSweeps": org.applied_sweeps,
                **{kind: org.actions.get(kind, 0) for kind in ACTIONS},
                "failed": org.failed,
                "apiRequests": org.cost.api_requests,
                "requestsPerClose": round2(org.cost.per_close),
            }
            for org in data.by_org
        },
    }
