"""The report of a real run: `sweep --apply` processes against the emulator, then `report` three ways.

The terminal, `--json` and `--html` are read from the same ledger and must agree on every figure; the
figures must be what happened on the platform (read back through the platform API and its request log);
queues are named as the platform names them, by id when their read is refused, "(no queue)" when none.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from session_reaper.commands.report.figures import FIGURE_LABELS, FIGURES
from tests.helpers.pages import parse
from tests.helpers.scenarios import acd, agent, customer, ended, zombie
from tests.scenarios.conftest import Reaper

# retry_backoff: the flaky queue's 503s are retried as always, after short waits (each sweep waited
# 8-15 s through them); what is judged is how it is named and that the next sweep reads it again
POLICY = {"sweep": {"retry_backoff": "20ms"}, "close": {"wrapup_code": "code-abandoned"}}
QUEUES = {"queue-sales": "Sales — EMEA", "queue-support": "Support"}
REFUSED = {"queue-secret": 403, "queue-gone": 404}  # read refused for good: shown by id, never read again
FLAKY = "queue-flaky"  # 503 on every read: shown by id, read again by the next sweep


@pytest.fixture
def reaper(emulator: Any, tmp_path: Path) -> Reaper:
    return Reaper(emulator.base_url, tmp_path)


def idle(queue_id: str | None, minutes: int) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "messageType": "webmessaging",
        "participants": [customer(ago=f"{minutes}m"), acd(), agent(ago=f"{minutes + 1}m")],
    }
    if queue_id is not None:
        spec["queueId"] = queue_id
    return spec


def after_call_work(queue_id: str) -> dict[str, Any]:
    return {
        "messageType": "webmessaging",
        "queueId": queue_id,
        "participants": [
            customer(state="disconnected", ago="40m", endedAgo="30m", disconnectType="peer"),
            acd(),
            agent(state="disconnected", ago="35m", endedAgo="30m", wrapupRequired=True, acwStartedAgo="30m"),
        ],
    }


def report(reaper: Reaper, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "session_reaper.commands.cli",
        "report",
        *args,
        "--config",
        str(reaper.config()),
    ]
    env = reaper.env({"COLUMNS": "200"})
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, cwd=reaper.workdir)


def terminal_figure(output: str, label: str) -> str:
    found = re.search(rf"│ {re.escape(label)}\s*│\s*([^│]+?)\s*│", output)
    assert found, f"no row {label!r} in:\n{output}"
    return found.group(1)


def page_cards(page: str) -> dict[str, str]:
    cards = re.findall(r'<div class="value">([^<]*)</div><div class="label">([^<]*)</div>', page)
    return {label.replace("&amp;", "&"): value for value, label in cards}


def shown(value: int | float | None) -> str:
    return "-" if value is None else f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


@pytest.fixture
def day(emulator: Any, reaper: Reaper) -> dict[str, Any]:
    """Two applied sweeps an hour apart over a mix: closes in named, refused and no queues, teardowns,
    wrap-ups. Returns the conversations by kind and the sweeps' own summaries."""
    for queue_id, name in QUEUES.items():
        emulator.add_queue(queue_id, name)
    for queue_id, status in REFUSED.items():
        emulator.fault(method="GET", path=f"^/api/v2/routing/queues/{queue_id}$", status=status)
    emulator.fault(method="GET", path=f"^/api/v2/routing/queues/{FLAKY}$", status=503)
    first = {
        "close": [
            *(emulator.create_conversation(idle("queue-sales", m))["id"] for m in (45, 50, 130)),
            emulator.create_conversation(idle("queue-support", 60))["id"],
            *(emulator.create_conversation(idle(q, 40))["id"] for q in (*REFUSED, FLAKY)),
        ],
        "teardown": [emulator.create_conversation(zombie())["id"] for _ in range(2)],
        "wrapup": [
            emulator.create_conversation(after_call_work(q))["id"] for q in ("queue-sales", "queue-support")
        ],
    }
    summaries = []
    run = reaper.sweep(config=POLICY)
    assert run.code == 0, run.stderr
    summaries.append(run.summary)
    emulator.advance(3600)
    later = [emulator.create_conversation(idle(q, 35))["id"] for q in ("queue-sales", "queue-support", FLAKY)]
    run = reaper.sweep(config=POLICY)
    assert run.code == 0, run.stderr
    summaries.append(run.summary)
    first["close"].extend(later)
    return {"ids": first, "summaries": summaries}


def test_terminal_json_and_page_agree_with_each_other_and_with_the_platform(
    emulator: Any, reaper: Reaper, day: dict[str, Any]
) -> None:
    ids = day["ids"]

    def conversation_view(conversation_id: str) -> dict[str, Any]:
        answer = emulator.platform.get(f"/api/v2/conversations/{conversation_id}")
        answer.raise_for_status()
        return answer.json()  # type: ignore[no-any-return]

    # What happened, read from the platform itself.
    assert all(ended(conversation_view(cid)) for kind in ("close", "teardown") for cid in ids[kind])
    # Applied wrap-ups only: the write proof's probe on an id that cannot exist answers 404.
    wrapups = [
        r
        for r in emulator.requests()
        if r["method"] != "GET" and r["path"].endswith("/wrapup") and r["status"] < 300
    ]
    assert len(wrapups) == len(ids["wrapup"])
    requests = sum(s["apiRequests"] for s in day["summaries"])

    as_json = report(reaper, "--json")
    assert as_json.returncode == 0, as_json.stderr
    figures = json.loads(as_json.stdout)["figures"]
    assert figures["closed"] == len(ids["close"]) == 10
    assert figures["tornDown"] == len(ids["teardown"])
    assert figures["wrappedUp"] == len(ids["wrapup"])
    assert (figures["failed"], figures["appliedSweeps"], figures["apiRequests"]) == (0, 2, requests)
    assert figures["requestsPerClose"] == round(requests / 12, 2)
    # The 130-minute silent chat was closed 100 minutes past idle's 30: the longest delay; wrap-ups aside.
    past = json.loads(as_json.stdout)["pastThreshold"]
    assert past["closes"] == 12 and 100 <= past["maxMinutes"] <= 101

    terminal = report(reaper)
    assert terminal.returncode == 0, terminal.stderr
    # No failure: a sentence, not a table of headings over nothing.
    assert "Failures: no failure in this period." in terminal.stdout and "last error" not in terminal.stdout
    html_file = reaper.workdir / "report.html"
    page_run = report(reaper, "--html", str(html_file))
    assert page_run.returncode == 0, page_run.stderr
    page = html_file.read_text(encoding="utf-8")
    assert parse(page).problems == []
    cards = page_cards(page)
    for key, label in FIGURES:
        assert terminal_figure(terminal.stdout, label) == shown(figures[key]), label
        assert cards[label] == shown(figures[key]), label
    assert set(cards) == set(FIGURE_LABELS.values())

    # Wrap-ups beside closes and teardowns, by rule, in all three.
    by_rule = json.loads(as_json.stdout)["actions"]["byRule"]
    assert by_rule["acw-stuck"]["wrapup"] == 2 and by_rule["orphaned"]["teardown"] == 2
    assert by_rule["idle"]["close"] == 10
    assert re.search(r"│ acw-stuck\s*│\s*0\s*│\s*0\s*│\s*2\s*│\s*0\s*│\s*2\s*│", terminal.stdout), (
        terminal.stdout
    )
    assert re.search(
        r"<td>acw-stuck</td><td class=\"num\">0</td><td class=\"num\">0</td>"
        r"<td class=\"num\">2</td>",
        page,
    )


def test_queues_are_named_once_by_id_when_refused_and_no_queue_is_a_bucket(
    emulator: Any, reaper: Reaper, day: dict[str, Any]
) -> None:
    by_queue = json.loads(report(reaper, "--json").stdout)["closes"]["byQueue"]
    assert by_queue == {
        "Sales — EMEA": 4,
        "Support": 2,
        "queue-secret": 1,
        "queue-gone": 1,
        FLAKY: 2,
        "(no queue)": 2,
    }
    reads = [
        r["path"] for r in emulator.requests() if r["method"] == "GET" and "/routing/queues/" in r["path"]
    ]
    for queue_id in (*QUEUES, *REFUSED):  # acted in by both sweeps, read once
        assert reads.count(f"/api/v2/routing/queues/{queue_id}") == 1, reads
    assert reads.count(f"/api/v2/routing/queues/{FLAKY}") >= 2  # a failed read is tried again next sweep
    page = report(reaper, "--html", str(reaper.workdir / "r.html"))
    assert page.returncode == 0
    text = (reaper.workdir / "r.html").read_text(encoding="utf-8")
    assert ">Sales — EMEA</text>" in text and ">(no queue)</text>" in text and ">queue-secret</text>" in text
