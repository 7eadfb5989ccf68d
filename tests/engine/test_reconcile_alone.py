"""`reconcile` called by itself, as the coming event mode will: no sweep, no discovery, one conversation.

Against the emulator over loopback (GenesysPlatform over GenesysApi) and a real SQLite ledger. What
is asserted is what a user would see: the conversation's state on the platform, the requests the
emulator logged, and the journal's rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from session_reaper.config import Settings
from session_reaper.core.results import Outcome
from session_reaper.engine.limits import Caps
from session_reaper.engine.reconcile import Engine, Reconciled, Trigger, reconcile
from session_reaper.genesys.api import GenesysApi
from session_reaper.genesys.port import GenesysPlatform
from session_reaper.genesys.regions import resolve
from session_reaper.ledger import Ledger
from session_reaper.ledger.schema import decisions, steps


def chat(idle_minutes: int, *, customer_wrote: int | None = None) -> dict[str, Any]:
    wrote = customer_wrote if customer_wrote is not None else idle_minutes
    return {
        "messageType": "webmessaging",
        "queueId": "queue-support",
        "participants": [
            {"purpose": "customer", "state": "connected", "messages": [{"ago": f"{wrote}m"}]},
            {"purpose": "acd", "state": "disconnected", "startedAgo": "90m", "endedAgo": "80m"},
            {"purpose": "agent", "state": "connected", "messages": [{"ago": f"{idle_minutes + 1}m"}]},
        ],
    }


def run(
    emulator: Any,
    tmp_path: Path,
    conversation_id: str,
    *,
    apply: bool,
    caps: Caps | None = None,
    close: dict[str, Any] | None = None,
    on_intent: Callable[[str], None] | None = None,
) -> tuple[Reconciled, Ledger]:
    """`close`: the [close] table; `on_intent(kind)`: called as each step's intent is journalled."""
    settings = Settings.model_validate(
        {"sweep": {"ledger": f"sqlite:///{tmp_path / 'l.db'}", "verify_timeout": "5s"}, "close": close or {}}
    )
    ledger = Ledger.open(settings.sweep.ledger)
    if on_intent is not None:
        journal_intent = ledger.held_step_intent

        def held_step_intent(
            decision_id: int, conversation_id: str, kind: str, *args: Any, **kwargs: Any
        ) -> int | None:
            step_id = journal_intent(decision_id, conversation_id, kind, *args, **kwargs)
            on_intent(kind)
            return step_id

        ledger.held_step_intent = held_step_intent  # type: ignore[method-assign]

    async def main() -> Reconciled:
        async with GenesysApi.connect(resolve(None, emulator.base_url), "emulator", "emulator-secret") as api:
            platform = GenesysPlatform(api)
            ledger.clock = platform.now
            engine = Engine(platform, ledger, settings, owner="event-test")
            sweep_id = ledger.start_sweep(apply, owner="event-test")
            done = await reconcile(
                engine,
                conversation_id,
                Trigger.EVENT,
                sweep_id=sweep_id,
                apply=apply,
                caps=caps if caps is not None else Caps(closes_left=10, teardowns_left=10),
            )
            ledger.finish_sweep(sweep_id, {})
            return done

    return asyncio.run(main()), ledger


def state(emulator: Any, conversation_id: str) -> list[str]:
    view = emulator.platform.get(f"/api/v2/conversations/{conversation_id}").json()
    return [str((p.get("messages") or [p])[0]["state"]).lower() for p in view["participants"]]


def writes(emulator: Any) -> list[str]:
    return [
        f"{r['method']} {r['path']}"
        for r in emulator.requests()
        if r["method"] in ("PATCH", "POST", "DELETE")
        and "analytics" not in r["path"]
        and r["path"] != "/oauth/token"
    ]


@pytest.mark.parametrize("idle_minutes", [31, 45, 240])
def test_an_idle_conversation_is_closed_by_one_call(emulator: Any, tmp_path: Path, idle_minutes: int) -> None:
    cid = emulator.create_conversation(chat(idle_minutes))["id"]
    done, ledger = run(emulator, tmp_path, cid, apply=True)
    assert done.trigger is Trigger.EVENT
    assert (done.line.rule, done.line.decision, done.line.outcome) == ("idle", "close", Outcome.DONE)
    assert done.line.decision_id is not None and done.stop is None
    assert all(s in ("disconnected", "terminated") for s in state(emulator, cid))
    assert not any("analytics" in r["path"] for r in emulator.requests())  # no discovery: one conversation
    with ledger.engine.connect() as connection:
        row = connection.execute(
            select(decisions.c.outcome).where(decisions.c.id == done.line.decision_id)
        ).one()
        kinds = list(connection.execute(select(steps.c.kind, steps.c.outcome).order_by(steps.c.id)))
    assert row.outcome == "done"
    assert kinds and all(outcome in ("done", "already-done") for _, outcome in kinds)
    assert ("closing-text", "done") in [tuple(k) for k in kinds]


@pytest.mark.parametrize("customer_wrote", [0, 5, 29])
def test_a_conversation_with_a_recent_message_is_left_alone(
    emulator: Any, tmp_path: Path, customer_wrote: int
) -> None:
    cid = emulator.create_conversation(chat(60, customer_wrote=customer_wrote))["id"]
    done, _ = run(emulator, tmp_path, cid, apply=True)
    assert done.line.outcome in (Outcome.SKIPPED, Outcome.DEFERRED)
    assert done.line.decision_id is None  # inaction is the caller's to journal
    assert done.until is not None  # and the caller learns when reading again can matter
    assert writes(emulator) == []
    assert "connected" in state(emulator, cid)


def test_a_dry_run_lists_the_steps_and_writes_nothing(emulator: Any, tmp_path: Path) -> None:
    cid = emulator.create_conversation(chat(45))["id"]
    done, _ = run(emulator, tmp_path, cid, apply=False)
    assert done.line.outcome is Outcome.DRY_RUN
    assert "closing-text" in (done.line.steps or []) and "verify" in (done.line.steps or [])
    assert writes(emulator) == []


def test_the_caps_the_caller_passes_hold(emulator: Any, tmp_path: Path) -> None:
    cid = emulator.create_conversation(chat(45))["id"]
    done, _ = run(emulator, tmp_path, cid, apply=True, caps=Caps(closes_left=0, teardowns_left=0))
    assert done.line.outcome is Outcome.DEFERRED and "cap" in (done.line.reason or "")
    assert done.until is None
    assert writes(emulator) == []


def test_a_conversation_the_platform_does_not_have_is_skipped(emulator: Any, tmp_path: Path) -> None:
    done, _ = run(emulator, tmp_path, "00000000-0000-4000-8000-000000000000", apply=True)
    assert done.line.outcome is Outcome.SKIPPED and done.conversation is None
    assert writes(emulator) == []


@pytest.mark.parametrize("who", ["customer", "agent"])
def test_a_person_writing_as_the_closing_text_goes_out_keeps_the_chat_open(
    emulator: Any, tmp_path: Path, who: str
) -> None:
    """The shape of the soak's closes in use (docs/reliability.md, runs I and L): a person writes in
    the moment between the closing text and the disconnect. The disconnect's re-check must read after
    the text and see that message: no disconnect, the chat still open, the intent journalled cancelled.
    (What no client can close is a message after that re-check's answer and before the disconnect.)"""
    cid = emulator.create_conversation(chat(45))["id"]
    emulator.trigger(  # runs just before the closing text is served
        method="POST",
        path=f"/conversations/messages/{cid}/communications/.*/messages$",
        times=1,
        action={"type": "message", "conversationId": cid, "from": who},
    )
    done, ledger = run(emulator, tmp_path, cid, apply=True)
    assert done.line.outcome is Outcome.CANCELLED, done.line
    assert "new message" in (done.line.reason or "")
    assert "connected" in state(emulator, cid)
    ours = [w for w in writes(emulator) if cid in w]
    assert [w for w in ours if "/participants/" in w and not w.endswith("/attributes")] == [], ours
    with ledger.engine.connect() as connection:
        kinds = [
            tuple(k) for k in connection.execute(select(steps.c.kind, steps.c.outcome).order_by(steps.c.id))
        ]
    assert ("closing-text", "done") in kinds and ("disconnect:agent", "cancelled") in kinds


QUEUE_ABANDONED = {  # a guest waiting in a queue nobody answers: the disconnect is the first write
    "messageType": "webmessaging",
    "queueId": "queue-support",
    "participants": [
        {"purpose": "customer", "state": "connected", "messages": [{"ago": "40m"}]},
        {"purpose": "acd", "state": "connected", "startedAgo": "40m"},
    ],
}


@pytest.mark.parametrize(
    ("spec", "close"),
    [
        (QUEUE_ABANDONED, {"annotate": False}),
        (chat(45), {"annotate": False, "closing_text": ""}),
    ],
    ids=["queue-abandoned", "idle"],
)
def test_a_guest_writing_while_the_disconnect_is_journalled_is_not_disconnected(
    emulator: Any, tmp_path: Path, spec: dict[str, Any], close: dict[str, Any]
) -> None:
    """When the disconnect is the act's first write (no annotation, no text), its evidence must be
    read after its intent is journalled, as for a disconnect after a text: a guest who writes while
    the ledger is written to is seen. Was: the re-check came before the ledger's round trips (and
    before any pacing wait), and the disconnect went out over the guest's new message."""
    cid = emulator.create_conversation(spec)["id"]

    def guest_writes(kind: str) -> None:
        if kind.startswith(("disconnect", "teardown")):
            emulator.message(cid, "customer")

    done, ledger = run(emulator, tmp_path, cid, apply=True, close=close, on_intent=guest_writes)
    assert done.line.outcome is Outcome.CANCELLED, done.line
    assert "new message" in (done.line.reason or "")
    assert "connected" in state(emulator, cid)
    assert [w for w in writes(emulator) if cid in w] == []  # nothing was written to it
    with ledger.engine.connect() as connection:
        outcomes = [row.outcome for row in connection.execute(select(steps.c.outcome))]
    assert outcomes == ["cancelled"]  # the intent, journalled and settled: nothing sent


class _OtherActsAfterThisRead(GenesysPlatform):
    """The decision's read answers, then another reaper (`other`) reconciles the same conversation to its
    end before this act may take the lease: the order in which four replicas sharing one ledger met."""

    other: Engine | None = None

    async def read(self, conversation_id: str, own: Any) -> Any:
        seen = await super().read(conversation_id, own)
        other, self.other = self.other, None  # only the first read: the fresh look must see the end
        if other is not None:
            sweep_id = other.journal.start_sweep(True, owner=other.owner)
            done = await reconcile(
                other, conversation_id, Trigger.SWEEP, sweep_id=sweep_id, apply=True, caps=Caps(10, 10)
            )
            assert done.line.outcome is Outcome.DONE, done.line
        return seen


def test_an_act_another_reaper_finished_after_this_read_is_not_reported_twice(
    emulator: Any, tmp_path: Path
) -> None:
    """Was (four replicas on one PostgreSQL ledger, `test_replicas.py`): a replica read the chat open,
    another closed it and gave the lease back, the first then took the lease, found every step "done"
    in the journal, resumed them — nothing sent — and journalled a close of its own: 201 closes of 200.
    Now the journal's answer when taking the lease says an act with this decision finished since: the
    act decides again on a fresh read, which sees the end."""
    cid = emulator.create_conversation(chat(45))["id"]
    settings = Settings.model_validate({"sweep": {"ledger": f"sqlite:///{tmp_path / 'l.db'}"}})
    ledger = Ledger.open(settings.sweep.ledger)

    async def main() -> Reconciled:
        async with GenesysApi.connect(resolve(None, emulator.base_url), "emulator", "emulator-secret") as api:
            platform = _OtherActsAfterThisRead(api)
            ledger.clock = platform.now
            platform.other = Engine(GenesysPlatform(api), ledger, settings, owner="replica-a")
            engine = Engine(platform, ledger, settings, owner="replica-b")
            sweep_id = ledger.start_sweep(True, owner="replica-b")
            return await reconcile(
                engine, cid, Trigger.SWEEP, sweep_id=sweep_id, apply=True, caps=Caps(10, 10)
            )

    done = asyncio.run(main())
    assert done.line.outcome is Outcome.SKIPPED and done.line.reason == "already ended", done.line
    with ledger.engine.connect() as connection:
        rows = connection.execute(select(decisions.c.decision, decisions.c.outcome)).all()
    assert [tuple(r) for r in rows] == [("close", "done")]  # one close journalled, the other replica's
    ours = [w for w in writes(emulator) if cid in w]
    assert len([w for w in ours if w.endswith("/messages")]) == 1, ours  # one closing text
