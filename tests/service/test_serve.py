"""`session-reaper serve` as a real process against the emulator, over loopback HTTP.

The interval between passes is real time (1 s here); idle thresholds are in the emulator's virtual
time, so every conversation is created already idle and no test sleeps through a threshold.
"""

from __future__ import annotations

import itertools
import signal
from typing import Any

from serve_harness import Serve
from sqlalchemy import select

from session_reaper.ledger import Ledger
from session_reaper.ledger.schema import decisions, sweeps

IDLE_CLOSED = {"rule": "idle", "decision": "close", "outcome": "done"}


def idle_chat(minutes: int = 45, *, customer_wrote: int | None = None) -> dict[str, Any]:
    """Customer and agent connected; nobody wrote for `minutes` (or the customer wrote recently)."""
    wrote = f"{customer_wrote or minutes}m"
    return {
        "messageType": "webmessaging",
        "queueId": "queue-support",
        "participants": [
            {
                "purpose": "customer",
                "state": "connected",
                "messages": [{"ago": wrote}],
            },
            {"purpose": "acd", "state": "disconnected", "startedAgo": "60m", "endedAgo": "50m"},
            {"purpose": "agent", "state": "connected", "messages": [{"ago": f"{minutes + 1}m"}]},
        ],
    }


def ended(view: dict[str, Any]) -> bool:
    def state(participant: dict[str, Any]) -> str:
        communications = participant.get("messages") or []
        return str(communications[0]["state"] if communications else participant.get("state", "")).lower()

    return all(state(p) in ("disconnected", "terminated") for p in view["participants"])


def view(emulator: Any, conversation_id: str) -> dict[str, Any]:
    answer = emulator.platform.get(f"/api/v2/conversations/{conversation_id}")
    answer.raise_for_status()
    return answer.json()  # type: ignore[no-any-return]


def test_serve_closes_idle_conversations_and_exposes_what_happened(emulator: Any, serve: Serve) -> None:
    idle = [emulator.create_conversation(idle_chat(45))["id"] for _ in range(3)]
    fresh = emulator.create_conversation(idle_chat(45, customer_wrote=2))["id"]
    emulator.fault(method="PATCH", path="/attributes$", status=429, retryAfter=1, times=2)

    serve.start("--apply")
    ready = serve.wait_ready().json()
    assert ready["status"] == "ready" and set(ready["checks"].values()) == {"ok"}
    serve.wait_metric("session_reaper_decisions_total", 3, **IDLE_CLOSED)
    # the pass after the closes finds only the fresh conversation still in scope
    serve.wait_until(lambda: serve.metric("session_reaper_conversations_in_scope") == 1, "in scope == 1")

    assert all(ended(view(emulator, cid)) for cid in idle)
    assert not ended(view(emulator, fresh))
    metrics = serve.metrics()
    assert serve.metric("session_reaper_decisions_total", **IDLE_CLOSED) == 3  # closed once, never again
    assert serve.metric("session_reaper_sweeps_total", outcome="ok") >= 2
    assert serve.metric("session_reaper_sweeps_total", outcome="aborted") == 0
    assert serve.metric("session_reaper_sweep_duration_seconds_count") >= 2
    assert serve.metric("session_reaper_last_sweep_timestamp_seconds") > 0
    limited = [r for r in emulator.requests() if r["status"] == 429]
    assert len(limited) == 2
    assert serve.metric("session_reaper_rate_limited_total") == 2
    assert serve.metric("session_reaper_api_requests_total", method="PATCH", status="429") == 2
    skips = [
        v
        for (name, labels), v in metrics.items()
        if name == "session_reaper_decisions_total" and ("decision", "skip") in labels
    ]
    assert sum(skips) >= 1
    patches = sum(
        v
        for (name, labels), v in metrics.items()
        if name == "session_reaper_api_requests_total"
        and ("method", "PATCH") in labels
        and dict(labels)["status"].startswith("2")
    )
    assert patches >= 6  # per conversation: annotate + disconnect
    assert serve.metric("session_reaper_api_requests_total", method="POST", status="200") >= 1  # the token
    assert serve.get("/healthz").status_code == 200

    serve.signal(signal.SIGTERM)
    assert serve.wait_exit() == 0

    logged = serve.log_lines()  # every line is JSON (json.loads would have failed)
    closes = [ln for ln in logged if ln.get("event") == "decision" and ln.get("outcome") == "done"]
    assert sorted(ln["conversation_id"] for ln in closes) == sorted(idle)
    assert all(ln["timestamp"] and ln["level"] for ln in logged)
    assert serve.client_secret not in serve.stderr()
    assert "Bearer " not in serve.stderr()

    with Ledger.open(serve.ledger_url) as ledger, ledger.engine.connect() as db:
        passes = db.execute(select(sweeps.c.started_at, sweeps.c.finished_at).order_by(sweeps.c.id)).all()
    assert len(passes) >= 2 and all(finished is not None for _, finished in passes)
    for (_, finished), (next_started, _) in itertools.pairwise(passes):
        assert next_started >= finished, "passes overlapped"


def test_sigterm_lets_the_step_in_flight_finish_and_exits_0(emulator: Any, serve: Serve) -> None:
    ids = [emulator.create_conversation(idle_chat(45))["id"] for _ in range(4)]
    # every annotate is slow: the first conversation is mid-step when the signal comes
    emulator.fault(method="PATCH", path="/attributes$", latencyMs=1500, times=100)

    with Ledger.open(serve.ledger_url) as ledger:  # the schema exists before the process starts
        serve.start("--apply", sweep={"concurrency": 1})
        serve.wait_until(ledger.pending_steps, "a step in flight (intent journalled, no outcome yet)")
        serve.signal(signal.SIGTERM)
        assert serve.wait_exit() == 0, serve.stderr()

        assert ledger.pending_steps() == []  # every intent has its outcome
        with ledger.engine.connect() as db:
            acted = db.execute(
                select(decisions.c.conversation_id, decisions.c.outcome).where(
                    decisions.c.decision == "close"
                )
            ).all()
    assert acted and all(outcome is not None for _, outcome in acted)
    closed = [cid for cid in ids if ended(view(emulator, cid))]
    assert [cid for cid, outcome in acted if outcome == "done"] == closed
    assert 1 <= len(closed) < len(ids), "it stopped starting new conversations"
    events = [ln.get("event") for ln in serve.log_lines()]
    assert "signal received" in events and "stopped" in events


def test_a_permission_lost_mid_run_turns_readiness_off_and_the_service_keeps_going(
    emulator: Any, serve: Serve
) -> None:
    serve.start("--apply")
    serve.wait_ready()
    serve.wait_metric("session_reaper_sweeps_total", 1, outcome="ok")

    emulator.fault(method="PATCH", path="/attributes$", status=403, times=1000)
    cid = emulator.create_conversation(idle_chat(45))["id"]
    serve.wait_until(
        lambda: serve.metric("session_reaper_sweeps_total", outcome="aborted") >= 1, "an aborted pass"
    )

    not_ready = serve.get("/readyz")
    assert not_ready.status_code == 503
    assert "permission" in not_ready.json()["checks"]["permissions"].lower()
    assert serve.get("/healthz").status_code == 200  # alive: an orchestrator must not restart it

    # the role is fixed: the next pass closes the conversation and readiness comes back by itself
    emulator.clear_faults()
    serve.wait_metric("session_reaper_decisions_total", 1, **IDLE_CLOSED)
    serve.wait_ready()
    assert ended(view(emulator, cid))
    serve.signal(signal.SIGTERM)
    assert serve.wait_exit() == 0
    assert any(ln["event"].startswith("sweep aborted") for ln in serve.log_lines())


def test_bad_credentials_exit_3_without_showing_the_secret(emulator: Any, serve: Serve) -> None:
    serve.client_secret = "wrong-secret-do-not-print"
    serve.start()
    assert serve.wait_exit() == 3
    assert "wrong-secret-do-not-print" not in serve.stderr()
    assert any(ln["level"] == "error" for ln in serve.log_lines())


def test_a_missing_permission_on_the_first_pass_exits_3_and_names_it(emulator: Any, serve: Serve) -> None:
    emulator.create_conversation(idle_chat(45))
    emulator.fault(method="PATCH", path="/attributes$", status=403, times=5)
    serve.start("--apply")
    assert serve.wait_exit() == 3
    assert "permission" in serve.stderr().lower()


def test_past_the_grace_period_the_step_is_cut_short_and_the_next_start_resolves_it(
    emulator: Any, serve: Serve
) -> None:
    ids = [emulator.create_conversation(idle_chat(45))["id"] for _ in range(2)]
    # On the conversations' own annotate (the permission proof's goes to an id that cannot exist).
    emulator.fault(method="PATCH", path=f"({'|'.join(ids)})/.*/attributes$", latencyMs=5000, times=1)

    with Ledger.open(serve.ledger_url) as ledger:
        serve.start("--apply", "--grace", "0.2", sweep={"concurrency": 1})
        serve.wait_until(ledger.pending_steps, "a step in flight")
        serve.signal(signal.SIGINT)
        assert serve.wait_exit() == 1  # cut short: said so, and the journal keeps the open intent
        assert len(ledger.pending_steps()) == 1

        serve.start("--apply")  # the next start reads the platform and resolves it, then closes both
        serve.wait_metric("session_reaper_decisions_total", 2, **IDLE_CLOSED)
        assert ledger.pending_steps() == []
    assert all(ended(view(emulator, cid)) for cid in ids)
    serve.signal(signal.SIGTERM)
    assert serve.wait_exit() == 0


def test_without_apply_serve_only_reports_what_it_would_do(emulator: Any, serve: Serve) -> None:
    cid = emulator.create_conversation(idle_chat(45))["id"]

    serve.start()
    dry_runs = {"rule": "idle", "decision": "close", "outcome": "dry-run"}
    serve.wait_until(lambda: serve.metric("session_reaper_decisions_total", **dry_runs) >= 2, "two dry runs")
    serve.signal(signal.SIGTERM)
    assert serve.wait_exit() == 0

    reads_only = ("/oauth/token", "/api/v2/analytics/conversations/details/query")
    writes = [
        r
        for r in emulator.requests()
        if r["method"] in ("POST", "PATCH", "PUT", "DELETE") and not r["path"].startswith(reads_only)
    ]
    assert writes == []
    assert not ended(view(emulator, cid))


def test_one_conversations_unreadable_answers_never_stop_serve(emulator: Any, serve: Serve) -> None:
    """Issue 14 class 5 in `serve`: the failure is logged and counted, the others close, passes go on."""
    storm = emulator.create_conversation(idle_chat(45))["id"]
    corrupt = emulator.create_conversation(idle_chat(45))["id"]
    idle = [emulator.create_conversation(idle_chat(50))["id"] for _ in range(2)]
    emulator.fault(method="GET", path=f"/api/v2/conversations/{storm}$", status=503)
    emulator.fault(method="GET", path=f"/api/v2/conversations/{corrupt}$", corrupt="wrong-type")

    serve.start("--apply", sweep={"retry_backoff": "20ms"})  # the storm's retries, not their length
    serve.wait_metric("session_reaper_decisions_total", 2, **IDLE_CLOSED)
    failed = {"rule": "none", "decision": "skip", "outcome": "failed"}
    # Two passes at least, each failing both conversations alone: the loop goes on.
    serve.wait_until(
        lambda: serve.metric("session_reaper_decisions_total", **failed) >= 4,
        "failed decisions >= 4",
        timeout=90,  # each pass retries the storm with backoff before giving that conversation up
    )
    assert serve.metric("session_reaper_sweeps_total", outcome="failed") >= 2
    assert serve.metric("session_reaper_sweeps_total", outcome="aborted") == 0
    emulator.clear_faults()
    assert all(ended(view(emulator, cid)) for cid in idle)
    assert not ended(view(emulator, storm)) and not ended(view(emulator, corrupt))
    logged = [ln for ln in serve.log_lines() if ln.get("outcome") == "failed"]
    assert {ln.get("conversation_id") for ln in logged} >= {storm, corrupt}
    assert any("503" in str(ln.get("error")) for ln in logged)
    assert any("could not be read" in str(ln.get("error")) for ln in logged)
    assert "Traceback" not in serve.stderr()
