"""SCENARIOS.md rows 14, 19-23, 26, 27: dry run, caps, warnings, hours, channels, clocks, config."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.helpers.scenarios import (
    agent,
    customer,
    ended,
    idle_chat,
    participants_by_purpose,
    state_of,
    writes,
)


def test_row14_dry_run_sends_no_write_of_any_kind(emulator, reaper):
    ids = [emulator.create_conversation(idle_chat(45 + i))["id"] for i in range(5)]

    run = reaper.sweep(apply=False)

    assert run.code == 0, run.stderr
    assert {run.line(cid)["outcome"] for cid in ids} == {"dry-run"}
    assert all(run.line(cid)["steps"] for cid in ids)
    assert writes(emulator.requests()) == []


def test_dry_run_is_the_default_even_with_apply_false_in_the_file(emulator, reaper):
    cid = emulator.create_conversation(idle_chat(45))["id"]

    run = reaper.sweep(apply=False, config={"sweep": {"apply": False}})

    assert run.line(cid)["outcome"] == "dry-run"
    assert writes(emulator.requests()) == []


def test_row19_max_closes_defers_the_rest_to_the_next_pass(emulator, reaper):
    ids = [emulator.create_conversation(idle_chat(40 + i % 10))["id"] for i in range(50)]
    config = {"sweep": {"max_closes": 20}}

    first = reaper.sweep(config=config)

    outcomes = [first.line(cid)["outcome"] for cid in ids]
    assert outcomes.count("done") == 20
    assert outcomes.count("deferred") == 30
    assert first.summary["closed"] == 20 and first.summary["deferred"] == 30

    second = reaper.sweep(config=config)
    third = reaper.sweep(config=config)
    closed = [
        cid
        for cid in ids
        if any(r.line(cid)["outcome"] == "done" for r in (first, second, third) if _has(r, cid))
    ]
    assert len(closed) == 50


def _has(run, cid):
    return any(ln["conversationId"] == cid for ln in run.lines)


def test_row20_warning_then_close_if_still_silent(emulator, reaper, conversation_view):
    answered = emulator.create_conversation(idle_chat(35))["id"]
    silent = emulator.create_conversation(idle_chat(35))["id"]
    config = {"close": {"warn_before": "2m"}}

    first = reaper.sweep(config=config)

    for cid in (answered, silent):
        line = first.line(cid)
        assert (line["decision"], line["outcome"]) == ("warn", "done")
        assert line["steps"] == ["warning-text"]
        assert state_of(participants_by_purpose(conversation_view(cid), "agent")[0]) == "connected"

    emulator.message(answered, "customer", "still here, sorry")
    emulator.advance(150)
    second = reaper.sweep(config=config)

    assert second.line(answered)["decision"] == "skip"
    assert not ended(conversation_view(answered))
    line = second.line(silent)
    assert (line["decision"], line["outcome"]) == ("close", "done")
    assert "closing-text" in line["steps"]
    assert ended(conversation_view(silent))
    texts = [r for r in writes(emulator.requests(), silent) if r["path"].endswith("/messages")]
    assert len(texts) == 2  # one warning, one closing text


def test_the_reapers_own_warning_never_keeps_a_conversation_alive(emulator, reaper, conversation_view):
    cid = emulator.create_conversation(idle_chat(35))["id"]
    config = {"close": {"warn_before": "2m"}}
    reaper.sweep(config=config)
    emulator.advance(60)

    too_early = reaper.sweep(config=config)

    assert too_early.line(cid)["decision"] == "skip"
    emulator.advance(61)
    assert reaper.sweep(config=config).line(cid)["outcome"] == "done"


LA_SCHEDULE = {
    "schedule": {"timezone": "America/Los_Angeles", "business_hours": "mon-fri 08:00-18:00"},
    "rules.idle": {"after": "30m", "after_hours": "10m"},
}


@pytest.mark.parametrize(
    ("platform_time", "expected"),
    [
        # Tue 3 Nov 2026 22:00 PST (after the DST change on 1 Nov): after hours -> 10m applies.
        ("2026-11-04T06:00:00Z", "close"),
        # Tue 3 Nov 2026 17:30 PST: business hours -> 30m applies. A fixed UTC-7 would say 18:30.
        ("2026-11-04T01:30:00Z", "skip"),
        # Tue 27 Oct 2026 22:00 PDT, before the change: after hours.
        ("2026-10-28T05:00:00Z", "close"),
        # Tue 27 Oct 2026 07:30 PDT: before opening -> after hours; a fixed UTC-8 would say 06:30 too.
        ("2026-10-27T14:30:00Z", "close"),
        # Tue 27 Oct 2026 08:30 PDT: business hours; a fixed UTC-8 would say 07:30 (after hours).
        ("2026-10-27T15:30:00Z", "skip"),
    ],
)
def test_row21_business_hours_in_a_time_zone_across_dst(emulator, reaper, platform_time, expected):
    emulator.set_clock(platform_time)
    cid = emulator.create_conversation(idle_chat(15))["id"]

    run = reaper.sweep(config=LA_SCHEDULE)

    assert run.line(cid)["decision"] == expected


@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
def test_row22_other_message_channels_only_when_listed(emulator, reaper, conversation_view, channel):
    cid = emulator.create_conversation(idle_chat(45, messageType=channel))["id"]

    default_run = reaper.sweep()

    assert not [ln for ln in default_run.lines if ln["conversationId"] == cid and ln["outcome"] == "done"]
    assert writes(emulator.requests(), cid) == []

    listed = reaper.sweep(config={"sweep": {"channels": ["webmessaging", channel]}})

    assert listed.line(cid)["outcome"] == "done"
    assert ended(conversation_view(cid))


@pytest.mark.parametrize("media", ["voice", "chat", "email"])
def test_row23_voice_chat_email_are_never_touched(emulator, reaper, media):
    spec = idle_chat(120)
    spec.pop("messageType")
    spec["mediaType"] = media
    cid = emulator.create_conversation(spec)["id"]

    run = reaper.sweep(config={"sweep": {"channels": ["webmessaging", "sms", "whatsapp", "open"]}})

    assert run.code == 0, run.stderr
    assert not [ln for ln in run.lines if ln["conversationId"] == cid and ln["decision"] != "skip"]
    assert writes(emulator.requests(), cid) == []


@pytest.mark.parametrize("offset_hours", [-7, 9])
def test_row26_a_wrong_machine_clock_changes_nothing(emulator, reaper, offset_hours):
    # The platform's clock is moved hours away from this machine's: decisions must follow the platform.
    emulator.set_clock((emulator.now() + timedelta(hours=offset_hours)).isoformat().replace("+00:00", "Z"))
    stale = emulator.create_conversation(idle_chat(45))["id"]
    spec = idle_chat(45)
    spec["participants"][0] = customer(ago="2m")
    fresh = emulator.create_conversation(spec)["id"]

    run = reaper.sweep()

    assert run.line(stale)["outcome"] == "done"
    assert run.line(fresh)["decision"] == "skip"
    assert re.search(r"4[45]m", run.line(stale)["reason"])


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[sweep]\ncolour = "blue"\n', "[sweep] colour"),
        ('[rules.idle]\nafter = "thirty minutes"\n', "[rules.idle] after"),
        ('[close]\nwarn_before = "5x"\n', "warn_before"),
        ('[rules.nonsense]\nafter = "5m"\n', "nonsense"),
    ],
)
def test_row27_bad_config_exits_2_names_the_key_and_sends_nothing(emulator, reaper, text, named):
    emulator.create_conversation(idle_chat(45))

    run = reaper.run("sweep", "--apply", "--json", config_text=text)

    assert run.code == 2
    assert named in run.stderr
    assert "session-reaper.toml:2" in run.stderr
    assert ":2" in run.stderr  # the line of the offending key
    assert emulator.requests() == []


def test_agent_idle_but_customer_wrote_is_not_a_person_left_behind(emulator, reaper):
    spec = {"messageType": "webmessaging", "participants": [customer(ago="1m"), agent(ago="50m")]}
    cid = emulator.create_conversation(spec)["id"]

    assert reaper.sweep().line(cid)["decision"] == "skip"
    assert writes(emulator.requests()) == []


def test_an_unknown_region_is_a_usage_error(emulator, reaper):
    run = reaper.run("sweep", env={"GENESYSCLOUD_API_URL": "", "GENESYSCLOUD_REGION": "mars-east-1"})

    assert run.code == 2
    assert "mars-east-1" in run.stderr and "us-east-1" in run.stderr
    assert "Traceback" not in run.stderr


def test_an_unreachable_ledger_database_fails_cleanly_without_its_password(emulator, reaper):
    run = reaper.run("sweep", config={"sweep": {"ledger": "postgresql://reaper:hunter2@127.0.0.1:1/ledger"}})

    assert run.code == 1
    assert "ledger" in run.stderr
    assert "hunter2" not in run.stderr + run.stdout
    assert "Traceback" not in run.stderr
