"""Issue 14, class 4: zombies months old are found, older windows are probed and looked at hourly.

The world is judged through the platform (is the zombie still open?) and the emulator's request log,
which shows every analytics query's interval and paging: probes have a page size of 1.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from session_reaper.genesys.discovery import OLDER_WINDOWS_EVERY, windows
from tests.helpers.scenarios import acd, agent, customer

QUERY = "/api/v2/analytics/conversations/details/query"


def zombie(days: float) -> dict[str, Any]:
    """Guest and agent connected, silent since the conversation started `days` ago."""
    seconds = int(days * 86_400)
    return {
        "messageType": "webmessaging",
        "queueId": "queue-support",
        "participants": [
            customer(ago=f"{seconds}s", startedAgo=f"{seconds}s"),
            acd(startedAgo=f"{seconds}s", endedAgo=f"{seconds - 60}s"),
            agent(ago=f"{seconds - 30}s", startedAgo=f"{seconds - 60}s"),
        ],
    }


def queries(emulator: Any) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r["path"] == QUERY]


def interval_end(query: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(query["interval"].split("/")[1])


def older(emulator: Any, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The queries of windows older than the recent one (which ends just after now, the others a
    month back or more)."""
    horizon = emulator.now() - timedelta(days=1)
    return [q for q in found if interval_end(q) < horizon]


@pytest.mark.parametrize("days", [0.5, 31.5, 40, 100, 179])
def test_zombies_inside_the_default_lookback_are_found_and_closed(emulator, reaper, days):
    cid = emulator.create_conversation(zombie(days))["id"]

    run = reaper.sweep()

    assert run.code == 0, run.stderr
    line = run.line(cid)
    assert (line["rule"], line["decision"], line["outcome"]) == ("idle", "close", "done")
    assert emulator.conversation(cid)["participants"]  # still readable, and ended on the platform
    assert [q for q in queries(emulator) if q["status"] != 200] == []


@pytest.mark.parametrize(
    ("days", "lookback", "found"),
    [(200, None, False), (200, "365d", True), (181.5, None, False), (364, "365d", True), (40, "31d", False)],
)
def test_a_zombie_older_than_the_lookback_is_not_found(emulator, reaper, days, lookback, found):
    cid = emulator.create_conversation(zombie(days))["id"]
    config = {"sweep": {"lookback": lookback}} if lookback else None

    run = reaper.sweep(apply=False, config=config)

    assert run.code == 0, run.stderr
    assert (cid in {ln["conversationId"] for ln in run.lines}) is found
    for query in queries(emulator):  # never past the platform's limit of 31 days per query
        start, end = (datetime.fromisoformat(t) for t in query["interval"].split("/"))
        assert end - start <= timedelta(days=31)


def test_every_window_is_probed_with_a_page_of_one_and_only_non_empty_ones_are_scanned(emulator, reaper):
    ids = [emulator.create_conversation(zombie(d))["id"] for d in (2, 100)]

    run = reaper.sweep(apply=False)

    assert run.code == 0, run.stderr
    assert {ln["conversationId"] for ln in run.lines} == set(ids)
    by_interval: dict[str, list[int]] = {}
    for query in queries(emulator):
        by_interval.setdefault(query["interval"], []).append(query["pageSize"])
    spans = windows(emulator.now(), timedelta(days=180))
    assert len(by_interval) == len(spans)  # every window, once
    assert all(sizes[0] == 1 for sizes in by_interval.values())
    scanned = [sizes for sizes in by_interval.values() if sizes != [1]]
    assert scanned == [[1, 100], [1, 100]]  # the two windows holding a zombie, and no other


def test_older_windows_are_looked_at_again_only_after_the_cadence(emulator, reaper):
    first = emulator.create_conversation(zombie(100))["id"]
    assert reaper.sweep().line(first)["outcome"] == "done"
    assert older(emulator, queries(emulator))  # the first sweep looks at every window

    # A new zombie appears in an older window (analytics is late, a migration...): a sweep within the
    # cadence looks at the recent window only, so it is not seen yet.
    emulator.clear_requests()
    emulator.advance(OLDER_WINDOWS_EVERY.total_seconds() - 120)
    late = emulator.create_conversation(zombie(60))["id"]
    recent = emulator.create_conversation(zombie(1))["id"]
    run = reaper.sweep()
    assert run.code == 0, run.stderr
    assert run.line(recent)["outcome"] == "done"
    assert late not in {ln["conversationId"] for ln in run.lines}
    found = queries(emulator)
    assert found and older(emulator, found) == []

    # Once the cadence has passed since the first look, the older windows are probed again.
    emulator.clear_requests()
    emulator.advance(180)
    run = reaper.sweep()
    assert run.code == 0, run.stderr
    assert run.line(late)["outcome"] == "done"
    assert [q["pageSize"] for q in older(emulator, queries(emulator))][:1] == [1]


def test_a_dry_run_always_looks_at_every_window(emulator, reaper):
    cid = emulator.create_conversation(zombie(90))["id"]
    reaper.sweep(apply=False)
    emulator.clear_requests()

    run = reaper.sweep(apply=False)

    assert cid in {ln["conversationId"] for ln in run.lines}
    assert older(emulator, queries(emulator))


@pytest.mark.parametrize(("status", "failures"), [(503, 1), (503, 2), (500, 1), (429, 1)])
def test_a_failed_probe_scans_the_window_never_skips_it(emulator, reaper, status, failures):
    ids = [emulator.create_conversation(zombie(d))["id"] for d in (0.2, 40, 100, 179)]
    # The first query is the recent window's probe: tried once, its failure leads to a scan of the
    # same window (whose own retries take any further failure).
    emulator.fault(method="POST", path=QUERY, status=status, times=failures, retryAfter=1)

    run = reaper.sweep(apply=False)

    assert run.code == 0, run.stderr
    assert {ln["conversationId"] for ln in run.lines} == set(ids)
    found = queries(emulator)
    probe = found[0]
    assert (probe["status"], probe["pageSize"]) == (status, 1)
    retried = [q for q in found if q["interval"] == probe["interval"]][1:]
    assert [q["pageSize"] for q in retried] == [100] * len(retried)
    assert retried[-1]["status"] == 200 and len(retried) == failures


def test_zombies_on_either_side_of_every_window_boundary_are_all_found(emulator, reaper):
    now = emulator.now()
    spans = windows(now, timedelta(days=180))
    offsets = (timedelta(minutes=-1), timedelta(0), timedelta(minutes=1))
    moments = [s.start + o for s in spans[:-1] for o in offsets]  # not past the oldest edge
    ids = [emulator.create_conversation(zombie((now - m).total_seconds() / 86_400))["id"] for m in moments]

    run = reaper.sweep(apply=False)

    assert run.code == 0, run.stderr
    assert set(ids) <= {ln["conversationId"] for ln in run.lines}
