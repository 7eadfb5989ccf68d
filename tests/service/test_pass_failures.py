"""A pass that fails as a whole says what failed in its log line: never "unhandled errors in a TaskGroup".

Two kinds: every platform request of the pass refused with an unexpected error (the platform's words:
method, path, status, code), and a failure inside a worker that is not the platform's (the ledger's
leases table gone under a running service), which reaches `serve` wrapped in a task group.
"""

from __future__ import annotations

from typing import Any

import pytest
from serve_harness import CLIENT_SECRET, Serve
from sqlalchemy import create_engine, text
from test_serve import idle_chat


def failed_passes(serve: Serve) -> list[dict[str, Any]]:
    return [ln for ln in serve.log_lines() if ln.get("event") == "sweep failed"]


def wait_failed_pass(serve: Serve) -> dict[str, Any]:
    found = serve.wait_until(lambda: failed_passes(serve), "a failed pass in the log", timeout=30)
    return found[0]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "bad.request"), (418, "teapot.refused"), (422, "invalid.value")],
)
def test_every_request_of_a_pass_refused_names_the_request(
    emulator: Any, serve: Serve, status: int, code: str
) -> None:
    emulator.create_conversation(idle_chat(45))
    serve.start("--apply")
    serve.wait_ready()
    emulator.fault(path="/api/v2/.*", status=status, code=code, message="not today")
    line = wait_failed_pass(serve)
    emulator.clear_faults()
    problem = str(line["problem"])
    assert f"{status} {code}: not today" in problem
    assert "POST /api/v2/analytics/conversations/details/query" in problem
    assert "contextId" in problem
    assert "TaskGroup" not in serve.stderr()
    assert CLIENT_SECRET not in serve.stderr()


def test_a_failure_inside_a_worker_is_named_not_wrapped(emulator: Any, serve: Serve) -> None:
    emulator.create_conversation(idle_chat(45))
    serve.start("--apply", sweep={"interval": "1s"})
    serve.wait_metric("session_reaper_decisions_total", 1, rule="idle", decision="close", outcome="done")
    emulator.create_conversation(idle_chat(50))
    ledger = create_engine(serve.ledger_url)
    with ledger.begin() as connection:  # the next close cannot take its conversation's lease
        connection.execute(text("ALTER TABLE leases RENAME TO leases_elsewhere"))
    ledger.dispose()
    line = wait_failed_pass(serve)
    problem = str(line["problem"])
    assert "OperationalError" in problem and "no such table: leases" in problem
    assert "unhandled errors in a TaskGroup" not in problem
    assert serve.process is not None and serve.process.poll() is None  # the service goes on
