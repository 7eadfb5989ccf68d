"""Issue 14 classes 5 and 6, issue 15 (corrupt answers): one conversation's trouble is its own.

A conversation whose reads fail (5xx storm, timeouts, an answer that cannot be read) or whose write is
refused gets outcome `failed` with the platform's words; every other conversation is decided and acted
on, the summary line is printed and the exit code is 1. One close the platform is slow to apply never
holds the others. Judged on the platform's state and the emulator's request log.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.scenarios import acd, customer, ended, idle_chat, writes

_GENERIC = "/api/v2/conversations/{cid}$"
_MEDIA = "/api/v2/conversations/messages/{cid}$"
# A 5xx or a timeout is retried all the same, only with short waits: these tests are about where a
# failure ends, not about how long the backoff before it is.
_SHORT_BACKOFF = {"retry_backoff": "20ms"}


def _queue_abandoned(**extra: Any) -> dict[str, Any]:
    return {
        "messageType": "webmessaging",
        "queueId": "queue-support",
        "participants": [customer(ago="40m"), acd(state="connected")],
        **extra,
    }


def _world(emulator: Any, healthy: int = 3) -> tuple[str, list[str]]:
    victim = emulator.create_conversation(idle_chat(45))["id"]
    others = [emulator.create_conversation(idle_chat(50))["id"] for _ in range(healthy)]
    return victim, others


def _assert_isolated(run: Any, emulator: Any, view: Any, victims: list[str], others: list[str]) -> None:
    """The victims failed alone: untouched and open; every other conversation closed; a summary."""
    emulator.clear_faults()  # the platform's state is judged through its own (now healthy) API
    assert run.code == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert "emulator-secret" not in run.stdout + run.stderr
    assert run.summary is not None, run.stdout
    assert run.summary["failed"] == len(victims)
    assert run.summary["closed"] == len(others)
    requests = emulator.requests()
    for cid in victims:
        line = run.line(cid)
        assert line["outcome"] == "failed"
        assert line.get("error")
        assert writes(requests, cid) == [], "something was written to a conversation that could not be read"
        assert not ended(view(cid))
    for cid in others:
        assert run.line(cid)["outcome"] == "done"
        assert ended(view(cid))


@pytest.mark.parametrize("path", [_GENERIC, _MEDIA], ids=["generic-view", "media-view"])
def test_a_5xx_storm_on_one_conversations_read_fails_it_alone(emulator, reaper, conversation_view, path):
    victim, others = _world(emulator)
    emulator.fault(method="GET", path=path.format(cid=victim), status=503)

    run = reaper.sweep(config={"sweep": _SHORT_BACKOFF})

    _assert_isolated(run, emulator, conversation_view, [victim], others)
    error = run.line(victim)["error"]
    # The platform's own words: status, code and the contextId support needs.
    assert "503" in error and "service.unavailable" in error and "contextId" in error
    assert victim in error


def test_timeouts_on_one_conversations_read_fail_it_alone(emulator, reaper, conversation_view):
    victim, others = _world(emulator, healthy=2)
    # Every answer about the victim comes after the client has stopped waiting for it.
    emulator.fault(method="GET", path=_GENERIC.format(cid=victim), latencyMs=2500)

    run = reaper.sweep(config={"sweep": {"request_timeout": "1s", **_SHORT_BACKOFF}})

    _assert_isolated(run, emulator, conversation_view, [victim], others)
    assert "timed out" in run.line(victim)["error"].lower() or "timeout" in run.line(victim)["error"].lower()


def test_a_500_on_one_conversations_disconnect_fails_it_alone(emulator, reaper, conversation_view):
    victim, others = _world(emulator)
    emulator.fault(method="PATCH", path=f"{victim}/participants/[^/]+$", status=500)

    run = reaper.sweep(config={"sweep": _SHORT_BACKOFF, "close": {"allow_teardown": False}})

    assert run.code == 1, run.stderr
    assert run.summary is not None and run.summary["failed"] == 1
    line = run.line(victim)
    assert line["outcome"] == "failed"
    assert "500" in line["error"] and "internal.server.error" in line["error"]
    for cid in others:
        assert run.line(cid)["outcome"] == "done"
        assert ended(conversation_view(cid))


def test_a_conversation_gone_between_discovery_and_read_is_not_a_failure(emulator, reaper, conversation_view):
    victim, others = _world(emulator)
    emulator.fault(method="GET", path=_GENERIC.format(cid=victim), status=404)

    run = reaper.sweep()

    assert run.code == 0, run.stderr
    assert run.summary is not None and run.summary["failed"] == 0
    line = run.line(victim)
    assert line["outcome"] == "skipped"
    assert "no longer" in line["reason"]
    assert writes(emulator.requests(), victim) == []
    assert all(ended(conversation_view(cid)) for cid in others)


def test_errors_on_several_conversations_at_once_fail_each_alone(emulator, reaper, conversation_view):
    victims = [emulator.create_conversation(idle_chat(45))["id"] for _ in range(4)]
    others = [emulator.create_conversation(idle_chat(50))["id"] for _ in range(3)]
    emulator.fault(method="GET", path=_GENERIC.format(cid=victims[0]), status=503)
    emulator.fault(method="GET", path=_MEDIA.format(cid=victims[1]), status=502)
    emulator.fault(method="GET", path=_GENERIC.format(cid=victims[2]), corrupt="truncate")
    emulator.fault(method="GET", path=_MEDIA.format(cid=victims[3]), corrupt="unknown-enum")

    run = reaper.sweep(config={"sweep": {"concurrency": 3, **_SHORT_BACKOFF}})

    _assert_isolated(run, emulator, conversation_view, victims, others)


# ------------------------------------------------------------------------------ corrupt answers


@pytest.mark.parametrize("mode", ["truncate", "drop-field", "wrong-type", "unknown-enum", "huge-array"])
@pytest.mark.parametrize("path", [_GENERIC, _MEDIA], ids=["generic-view", "media-view"])
def test_an_answer_that_cannot_be_read_is_never_acted_on(emulator, reaper, conversation_view, mode, path):
    victim, others = _world(emulator, healthy=2)
    emulator.fault(method="GET", path=path.format(cid=victim), corrupt=mode)

    run = reaper.sweep()

    _assert_isolated(run, emulator, conversation_view, [victim], others)
    assert "could not be read" in run.line(victim)["error"]


@pytest.mark.parametrize("mode", ["drop-field", "wrong-type", "unknown-enum"])
def test_a_corrupt_answer_never_makes_a_conversation_look_abandoned(
    emulator, reaper, conversation_view, mode
):
    """Unread participants must not look like no participants: no teardown, no conversation disconnect."""
    victim = emulator.create_conversation(_queue_abandoned())["id"]
    healthy = emulator.create_conversation(_queue_abandoned())["id"]
    emulator.fault(method="GET", path=_GENERIC.format(cid=victim), corrupt=mode)

    run = reaper.sweep()

    _assert_isolated(run, emulator, conversation_view, [victim], [healthy])


def test_a_corrupt_answer_during_verification_fails_that_close(emulator, reaper, conversation_view):
    victim, others = _world(emulator, healthy=2)
    # The decision's read is sound; every later read of the generic view (verification) is spoiled.
    emulator.fault(method="GET", path=_GENERIC.format(cid=victim), latencyMs=1, times=1)
    emulator.fault(method="GET", path=_GENERIC.format(cid=victim), corrupt="truncate")

    run = reaper.sweep()

    assert run.code == 1, run.stderr
    assert run.line(victim)["outcome"] == "failed"
    assert "could not be read" in run.line(victim)["error"]
    assert all(run.line(cid)["outcome"] == "done" for cid in others)


# ------------------------------------------------------------------------------ one slow close


def _index(log: list[dict[str, Any]], predicate: Any) -> list[int]:
    return [i for i, r in enumerate(log) if predicate(r)]


@pytest.mark.parametrize(
    "slow_spec",
    [idle_chat(45), _queue_abandoned()],
    ids=["agent-disconnect", "conversation-disconnect"],
)
def test_one_slow_close_never_holds_the_others(emulator, reaper, conversation_view, slow_spec):
    # The platform accepts the slow one's disconnect at once but shows it only an hour (virtual) later.
    slow = emulator.create_conversation({**slow_spec, "propagationDelaySeconds": 3600})["id"]
    others = [emulator.create_conversation(idle_chat(50))["id"] for _ in range(3)]
    # The others' first reads come a little late, so that the slow one takes the first turn; its
    # re-check before acting comes later still, so that the others queue for their turn behind it.
    for cid in others:
        emulator.fault(method="GET", path=_GENERIC.format(cid=cid), latencyMs=500, times=1)
    emulator.fault(method="GET", path=_MEDIA.format(cid=slow), latencyMs=2500, times=1)

    run = reaper.sweep(config={"close": {"allow_teardown": False}})

    log = [r for r in emulator.requests() if r.get("clientId") == "emulator"]
    slow_disconnects = _index(
        log, lambda r: r["method"] == "PATCH" and slow in r["path"] and "/attributes" not in r["path"]
    )
    assert slow_disconnects, "the slow conversation was never disconnected"
    accepted = slow_disconnects[0]
    assert log[accepted]["status"] < 300
    verification_end = _index(
        log, lambda r: r["method"] == "GET" and r["path"] == f"/api/v2/conversations/{slow}"
    )[-1]
    assert verification_end > accepted
    for cid in others:
        sent = _index(
            log,
            lambda r, cid=cid: r["method"] == "PATCH" and cid in r["path"] and "/attributes" not in r["path"],
        )
        assert sent, f"{cid} was never disconnected"
        # Sent after the slow one's disconnect was accepted, before its verification ended.
        assert accepted < sent[0] < verification_end
        assert run.line(cid)["outcome"] == "done"
        assert ended(conversation_view(cid))
    # The slow one: its end never showed within verify_timeout, so it failed with what was last seen.
    assert run.line(slow)["outcome"] == "failed"
    assert run.code == 1


def test_a_discovery_the_platform_cannot_answer_ends_the_pass_in_one_line(emulator, reaper):
    ids = [emulator.create_conversation(idle_chat(45))["id"] for _ in range(2)]
    emulator.fault(method="POST", path="/analytics/conversations/details/query$", status=503)

    run = reaper.sweep(config={"sweep": _SHORT_BACKOFF})

    assert run.code == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert "could not finish" in run.stderr and "503" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert run.summary is not None and run.summary["closed"] == 0
    assert all(writes(emulator.requests(), cid) == [] for cid in ids)


# ------------------------------------------------------------------ corrupt answers to discovery


_DISCOVERY = "/api/v2/analytics/conversations/details/query$"


@pytest.mark.parametrize("mode", ["truncate", "drop-field", "wrong-type"])
def test_a_discovery_answer_that_cannot_be_read_is_said_in_one_line_and_nothing_is_written(
    emulator, reaper, conversation_view, mode
):
    """Discovery is the pass's one read of what is in scope: a spoiled answer to it is never read as
    "nothing open", nor as a list to act on. The pass ends with the platform's words (exit 1, no
    traceback) and nothing is written; the next pass, the answer sound again, closes them."""
    stale = [emulator.create_conversation(idle_chat(50))["id"] for _ in range(3)]
    emulator.fault(method="POST", path=_DISCOVERY, corrupt=mode)

    run = reaper.sweep()

    assert run.code == 1, (run.code, run.stderr[-1500:])
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    assert "analytics" in run.stderr, run.stderr[-1500:]  # which request could not be read
    assert writes(emulator.requests()) == [], "something was written on an answer that could not be read"
    assert not any(ended(conversation_view(cid)) for cid in stale)
    emulator.clear_faults()
    again = reaper.sweep()
    assert again.code == 0, again.stderr[-2000:]
    assert all(ended(conversation_view(cid)) for cid in stale)


def test_a_discovery_answer_listing_each_conversation_thousands_of_times_closes_each_once(
    emulator, reaper, conversation_view
):
    """`huge-array`: the same conversations repeated to 20,000 entries. What is acted on comes from
    each conversation's own read, and each is read and closed once."""
    stale = [emulator.create_conversation(idle_chat(50))["id"] for _ in range(3)]
    emulator.fault(method="POST", path=_DISCOVERY, corrupt="huge-array")

    run = reaper.sweep()

    assert run.code == 0, run.stderr[-2000:]
    assert all(ended(conversation_view(cid)) for cid in stale)
    requests = emulator.requests()
    for cid in stale:
        disconnects = [
            r
            for r in writes(requests, cid)
            if r["method"] == "PATCH" and "/attributes" not in r["path"] and 200 <= r["status"] < 300
        ]
        reads = [r for r in requests if r["method"] == "GET" and r["path"].endswith(cid)]
        assert len(disconnects) == 1, disconnects
        assert len(reads) <= 8, len(reads)  # the decision's read and the verification's, not 20,000
