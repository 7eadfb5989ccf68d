"""`doctor` in events mode: a notification channel is created for real, and rejected topics are named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genesys_emulator.client import Emulator
from tests.doctor.test_doctor import client, doctor, every_permission_but, lines
from tests.scenarios.conftest import Reaper

EVENTS = {"sweep": {"mode": "events"}}


@pytest.fixture
def reaper(emulator: Emulator, tmp_path: Path) -> Reaper:
    emulator.add_queue("queue-support", name="Support")
    emulator.add_queue("queue-sales", name="Sales")
    return Reaper(emulator.base_url, tmp_path)


def test_a_channel_is_created_and_every_queue_topic_permitted(emulator: Emulator, reaper: Reaper) -> None:
    run = doctor(reaper, client(emulator, ["*"]), config=EVENTS)
    assert run.code == 0, run.stdout + run.stderr
    ticks = "\n".join(lines(run, "✓"))
    assert "notification channel" in ticks and "2 of 2 queue topic(s) permitted" in ticks
    assert "v2.routing.queues.{id}.conversations.messages (needs routing:queue:view)" in ticks
    (channel,) = emulator.notifications()["channels"]
    assert channel["topics"] == []  # the check leaves nothing subscribed
    assert {r["method"] for r in emulator.requests() if "/notifications/" in r["path"]} >= {"POST", "PUT"}


def test_rejected_topics_are_listed_with_the_permission_and_the_fallback(
    emulator: Emulator, reaper: Reaper
) -> None:
    cid = client(emulator, every_permission_but("routing:queue:view"))
    config = {"sweep": {"mode": "events", "queues": {"include": ["queue-sales", "queue-support"]}}}
    run = doctor(reaper, cid, args=("--json",), config=config)
    checks = {c["check"]: c for c in json.loads(run.stdout)["checks"]}
    assert checks["notification channel"]["status"] == "ok"
    assert checks["queue topics"]["detail"] == "0 of 2 queue topic(s) permitted"
    for queue in ("queue-sales", "queue-support"):
        rejected = checks[f"topic rejected: queue {queue}"]
        assert rejected["status"] == "warn" and "routing:queue:view" in rejected["detail"]
        assert "polls this queue instead" in rejected["detail"]


def test_poll_mode_does_not_need_notifications(emulator: Emulator, reaper: Reaper) -> None:
    run = doctor(reaper, client(emulator, ["*"]), args=("--json",))
    checks = {c["check"]: c for c in json.loads(run.stdout)["checks"]}
    assert checks["notifications"]["status"] == "skip"
    assert emulator.notifications()["channels"] == []


def test_a_channel_that_cannot_be_created_fails_the_check(emulator: Emulator, reaper: Reaper) -> None:
    emulator.fault(method="POST", path=r"^/api/v2/notifications/channels$", status=503)
    run = doctor(reaper, client(emulator, ["*"]), args=("--json",), config=EVENTS)
    checks = {c["check"]: c for c in json.loads(run.stdout)["checks"]}
    assert checks["notification channel"]["status"] == "fail" and run.code == 1
    assert "until then serve polls" in checks["notification channel"]["fix"]
