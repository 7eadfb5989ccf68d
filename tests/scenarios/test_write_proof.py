"""Issue 14 class 7: the first write never reaches a guest when the reaper cannot finish the close.

Before an applying pass sends its first write, each write permission its configuration needs is
proven once, the way `doctor` does: the write is sent on ids that cannot exist (403 = missing,
404 = present). A missing one stops the pass with exit 3, naming it, before anything is written.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.helpers.scenarios import ended, idle_chat, writes

DISCONNECT = "conversation:communication:disconnect"
SEND = ("conversation:message:create", "conversation:webmessaging:create")
READS = ["analytics:conversationDetail:view", "conversation:communication:view"]
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def _limited(emulator: Any, reaper: Any, permissions: list[str]) -> None:
    emulator.add_client(clientId="limited", clientSecret="limited-secret", permissions=permissions)
    reaper.client_id, reaper.client_secret = "limited", "limited-secret"


def _probes(requests: list[dict[str, Any]], ids: list[str]) -> list[dict[str, Any]]:
    """Writes on ids that are none of the conversations: the permission proofs."""
    return [r for r in writes(requests) if not any(cid in r["path"] for cid in ids)]


def _assert_stopped_before_writing(run: Any, emulator: Any, ids: list[str], *named: str) -> None:
    assert run.code == 3, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    for permission in named:
        assert permission in run.stderr
    assert "nothing was written" in run.stderr
    requests = emulator.requests()
    assert all(writes(requests, cid) == [] for cid in ids), "a guest was written to"
    refused = [r for r in requests if r["status"] == 403]
    assert refused and all(_UUID.search(r["path"]) for r in refused)  # only the proofs were refused


def test_missing_disconnect_stops_before_any_guest_is_written_to(emulator, reaper):
    ids = [emulator.create_conversation(idle_chat(45))["id"] for _ in range(4)]
    _limited(emulator, reaper, [*READS, *SEND])

    run = reaper.sweep()

    _assert_stopped_before_writing(
        run, emulator, ids, DISCONNECT, "Conversation > Communication > Disconnect"
    )


def test_missing_send_message_stops_when_a_closing_text_is_configured(emulator, reaper):
    ids = [emulator.create_conversation(idle_chat(45))["id"] for _ in range(3)]
    _limited(emulator, reaper, [*READS, DISCONNECT])

    run = reaper.sweep()

    _assert_stopped_before_writing(run, emulator, ids, SEND[0])


def test_missing_send_message_is_not_needed_without_texts(emulator, reaper, conversation_view):
    ids = [emulator.create_conversation(idle_chat(45))["id"] for _ in range(3)]
    _limited(emulator, reaper, [*READS, DISCONNECT])

    run = reaper.sweep(config={"close": {"closing_text": ""}})

    assert run.code == 0, run.stderr
    assert all(run.line(cid)["outcome"] == "done" and ended(conversation_view(cid)) for cid in ids)
    assert not any("/communications/" in r["path"] for r in writes(emulator.requests()))


@pytest.mark.parametrize("annotate", [True, False])
def test_missing_attributes_permission_matters_only_when_annotating(
    emulator, reaper, conversation_view, annotate
):
    ids = [emulator.create_conversation(idle_chat(45))["id"] for _ in range(3)]
    # No source names the attributes permission (the emulator needs none): the platform's 403 names one.
    emulator.fault(
        method="PATCH",
        path="/attributes$",
        status=403,
        code="missing.permissions",
        message="You are missing the following permission: conversation:participant:attributesedit",
    )

    run = reaper.sweep(config={"close": {"annotate": annotate}})

    if annotate:
        _assert_stopped_before_writing(run, emulator, ids, "conversation:participant:attributesedit")
    else:
        assert run.code == 0, run.stderr
        assert all(run.line(cid)["outcome"] == "done" and ended(conversation_view(cid)) for cid in ids)
        assert not any(r["path"].endswith("/attributes") for r in emulator.requests())


def test_all_present_costs_a_few_probes_once(emulator, reaper, conversation_view):
    ids = [emulator.create_conversation(idle_chat(45))["id"] for _ in range(6)]

    run = reaper.sweep(config={"sweep": {"concurrency": 4}})

    assert run.code == 0, run.stderr
    assert all(ended(conversation_view(cid)) for cid in ids)
    requests = emulator.requests()
    probes = _probes(requests, ids)
    # Defaults: disconnect a participant, the conversation, teardown, annotate, send: one each, once.
    assert sorted(r["method"] for r in probes) == ["PATCH", "PATCH", "PATCH", "POST", "POST"]
    assert all(r["status"] == 404 for r in probes)
    first_write = next(i for i, r in enumerate(requests) if r in writes(requests) and r not in probes)
    assert all(requests.index(p) < first_write for p in probes)


@pytest.mark.parametrize(
    ("close", "absent", "present"),
    [
        ({"allow_teardown": False}, "/disconnect", "/attributes"),
        ({"annotate": False}, "/attributes", "/disconnect"),
        ({"closing_text": ""}, "/messages", "/disconnect"),
    ],
)
def test_only_the_permissions_the_configuration_needs_are_probed(emulator, reaper, close, absent, present):
    ids = [emulator.create_conversation(idle_chat(45))["id"]]

    run = reaper.sweep(config={"close": close})

    assert run.code == 0, run.stderr
    probes = _probes(emulator.requests(), ids)
    assert probes and not any(r["path"].endswith(absent) for r in probes)
    assert any(r["path"].endswith(present) for r in probes)


def test_a_wrapup_code_adds_the_wrapup_probe(emulator, reaper):
    ids = [emulator.create_conversation(idle_chat(45))["id"]]

    run = reaper.sweep(config={"close": {"wrapup_code": "code-1"}})

    assert run.code == 0, run.stderr
    assert any(r["path"].endswith("/wrapup") for r in _probes(emulator.requests(), ids))


def test_nothing_to_do_and_a_dry_run_send_no_probe(emulator, reaper):
    emulator.create_conversation(idle_chat(2))  # not idle long enough: nothing to act on
    idle = emulator.create_conversation(idle_chat(45))["id"]

    dry = reaper.sweep(apply=False)
    assert dry.code == 0, dry.stderr
    assert dry.line(idle)["outcome"] == "dry-run"
    assert writes(emulator.requests()) == []

    emulator.clear_requests()
    emulator.fault(method="GET", path=f"/api/v2/conversations/{idle}$", status=404)
    nothing = reaper.sweep()
    assert nothing.code == 0, nothing.stderr
    assert writes(emulator.requests()) == []
