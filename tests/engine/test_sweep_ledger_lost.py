"""A pass whose ledger loses its connection under one conversation goes on with the others.

Found by the soaks: PostgreSQL restarted under the ledger, one conversation's journal call failed, the
pass's task group failed with it ("sweep crashed"), and a reconciliation that had read for minutes
started again. Here one applied pass over idle chats on the emulator, with a PostgreSQL ledger whose
server "restarts" just as one conversation's closing text is journalled as sent: that connection's
backend is killed under the statement (`pg_terminate_backend`) and new connections are refused for a
while, as a restarting server refuses them. What a contact-center engineer would look for: the others
closed in the same pass; that one `failed`, naming the ledger (never its password), its intent left
open; the next pass closes it without sending its text again (acts counted on the emulator); and a
ledger that does not come back ends the pass, named, after a bounded wait, with nothing else acted on.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from session_reaper.config import EventsConfig, Settings
from session_reaper.core.results import DecisionLine, Outcome
from session_reaper.engine import ledger_outage
from session_reaper.engine.sweep import Sweep, SweepResult
from session_reaper.engine.watch import Watch
from session_reaper.genesys.api import GenesysApi
from session_reaper.genesys.events import GenesysEvents
from session_reaper.genesys.port import GenesysPlatform
from session_reaper.genesys.regions import resolve
from session_reaper.ledger import Ledger, normalize_url
from tests.durability.conftest import writes_per_conversation
from tests.helpers.scenarios import ended, idle_chat
from tests.ledger.conftest import postgres_base, postgres_url  # noqa: F401  (fixtures)

PASSWORD = "never-shown-7f3a"  # trust auth: the server never asks for it, but the URL carries it
CHATS = 5
REFUSED = 'connection failed: connection to server at "127.0.0.1", port 5432 failed: Connection refused'

pytestmark = pytest.mark.postgres


@dataclass
class Outage:
    """PostgreSQL going away under the ledger once, as a restart does: the statement that journals
    the first closing text's outcome dies with its backend, and new connections are refused for
    `lasts` seconds (None: until `end()`)."""

    admin: Any
    lasts: float | None
    cut: list[str] = field(default_factory=list)  # the conversation it landed on
    down: threading.Event = field(default_factory=threading.Event)
    _texts: dict[int, str] = field(default_factory=dict)  # closing text's step id -> conversation
    _now: threading.local = field(default_factory=threading.local)

    def arm(self, ledger: Ledger) -> None:
        step_intent, step_outcome = ledger.held_step_intent, ledger.step_outcome

        def intent(
            decision_id: int, conversation_id: str, kind: str, *args: Any, **kwargs: Any
        ) -> int | None:
            step_id = step_intent(decision_id, conversation_id, kind, *args, **kwargs)
            if kind == "closing-text" and step_id is not None:
                self._texts[step_id] = conversation_id
            return step_id

        def outcome(step_id: int, *args: Any, **kwargs: Any) -> bool:
            self._now.cutting = step_id in self._texts and not self.cut
            if self._now.cutting:
                self.cut.append(self._texts[step_id])  # the text went out; its outcome cannot be kept
            try:
                return step_outcome(step_id, *args, **kwargs)
            finally:
                self._now.cutting = False

        ledger.held_step_intent = intent  # type: ignore[method-assign]
        ledger.step_outcome = outcome  # type: ignore[method-assign]

        @event.listens_for(ledger.engine, "before_cursor_execute")
        def _restart(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
            if getattr(self._now, "cutting", False) and statement.lstrip().upper().startswith("UPDATE"):
                self.down.set()
                with self.admin.begin() as connection:  # this statement's backend dies under it
                    connection.execute(
                        text(f"SELECT pg_terminate_backend({cursor.connection.info.backend_pid})")
                    )
                if self.lasts is not None:
                    threading.Timer(self.lasts, self.end).start()

        @event.listens_for(ledger.engine, "do_connect")
        def _refused(*_args: Any) -> None:
            if self.down.is_set():
                raise psycopg.OperationalError(REFUSED)

    def end(self) -> None:
        self.down.clear()


@pytest.fixture
def ledger_url(postgres_url: str) -> str:  # noqa: F811
    """The test's schema, with a password in the URL (which must never be shown)."""
    url = make_url(postgres_url).set(password=PASSWORD)
    url = url.update_query_dict({"application_name": f"reaper-{uuid.uuid4().hex[:8]}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture
def admin(postgres_base: str) -> Iterator[Any]:  # noqa: F811
    engine = create_engine(normalize_url(postgres_base))
    yield engine
    engine.dispose()


def settings_for(url: str) -> Settings:
    # one worker: the outage lands on one conversation, and "nothing started meanwhile" is exact
    return Settings.model_validate(
        {"sweep": {"ledger": url, "verify_timeout": "5s", "concurrency": 1, "max_closes": 100}}
    )


def one_pass(emulator: Any, ledger: Ledger, settings: Settings) -> tuple[SweepResult, float]:
    async def main() -> tuple[SweepResult, float]:
        async with GenesysApi.connect(resolve(None, emulator.base_url), "emulator", "emulator-secret") as api:
            started = time.monotonic()
            result = await Sweep(GenesysPlatform(api), ledger, settings, apply=True).run()
            return result, time.monotonic() - started

    return asyncio.run(main())


def view(emulator: Any, cid: str) -> dict[str, Any]:
    return emulator.platform.get(f"/api/v2/conversations/{cid}").json()  # type: ignore[no-any-return]


def test_a_conversation_that_loses_the_ledger_fails_alone_and_is_closed_next_pass(
    emulator: Any, ledger_url: str, admin: Any
) -> None:
    ids = [emulator.create_conversation(idle_chat(40 + i))["id"] for i in range(CHATS)]
    settings = settings_for(ledger_url)
    outage = Outage(admin, lasts=1.5)
    with Ledger.open(ledger_url) as ledger:
        outage.arm(ledger)
        first, _ = one_pass(emulator, ledger, settings)
        assert len(outage.cut) == 1
        cut = outage.cut[0]
        lines = {line.conversation_id: line for line in first.lines}
        assert first.unfinished is None and first.aborted is None  # the pass went on
        assert {cid: lines[cid].outcome for cid in ids if cid != cut} == {
            cid: Outcome.DONE for cid in ids if cid != cut
        }
        lost = lines[cut]
        assert lost.outcome is Outcome.FAILED
        assert "ledger postgresql://postgres:***@" in str(lost.error) and "connection lost" in str(lost.error)
        assert PASSWORD not in str(lost.error) and PASSWORD not in str(lost.reason)
        assert not ended(view(emulator, cut))  # its text went out, its disconnect did not
        assert [p.kind for p in ledger.pending_steps(conversation_id=cut)] == ["closing-text"]  # left open
        with ledger.engine.connect() as connection:  # and its decision says how it ended, not left blank
            closes = connection.execute(
                text("SELECT conversation_id, outcome FROM decisions WHERE decision = 'close'")
            )
            outcomes = dict(closes.all())
        assert outcomes[cut] == "interrupted" and None not in outcomes.values(), outcomes

        second, _ = one_pass(emulator, ledger, settings)
        assert {line.conversation_id: line.outcome for line in second.lines}.get(cut) is Outcome.DONE
        assert ledger.pending_steps() == []
    assert all(ended(view(emulator, cid)) for cid in ids)
    acts = writes_per_conversation(emulator.requests(), ids, refused_too=True)
    texts = Counter(acts[cid]["text"] for cid in ids)
    assert texts == Counter({1: CHATS})  # nothing sent twice, the cut one's text included
    assert acts[cut] == acts[next(cid for cid in ids if cid != cut)]  # the same acts as any other


def test_a_ledger_that_does_not_come_back_ends_the_pass_named_and_nothing_else_is_done(
    emulator: Any, ledger_url: str, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_outage, "LEDGER_WAIT", 2.0)
    monkeypatch.setattr(ledger_outage, "LEDGER_PROBE_EVERY", 0.2)
    ids = [emulator.create_conversation(idle_chat(40 + i))["id"] for i in range(CHATS)]
    settings = settings_for(ledger_url)
    outage = Outage(admin, lasts=None)
    with Ledger.open(ledger_url) as ledger:
        outage.arm(ledger)
        first, took = one_pass(emulator, ledger, settings)
        assert len(outage.cut) == 1
        cut = outage.cut[0]
        assert first.unfinished is not None  # ended, named, after the bounded wait: not a traceback
        said = str(first.unfinished)
        assert "ledger postgresql://postgres:***@" in said and "not back within 2 s" in said
        assert PASSWORD not in said
        assert took < 8
        assert [(line.conversation_id, line.outcome) for line in first.lines] == [(cut, Outcome.FAILED)]
        written = writes_per_conversation(emulator.requests(), ids, refused_too=True)
        assert {cid for cid in ids if written[cid]} == {cut}  # nothing else acted on meanwhile

        outage.end()  # back; the cut one's lease (never given back) runs out by itself
        emulator.advance(3 * 60)
        second, _ = one_pass(emulator, ledger, settings)
        assert second.unfinished is None
        assert ledger.pending_steps() == []
    assert all(ended(view(emulator, cid)) for cid in ids)
    acts = writes_per_conversation(emulator.requests(), ids, refused_too=True)
    assert Counter(acts[cid]["text"] for cid in ids) == Counter({1: CHATS})


def test_the_events_mode_reconciliation_goes_on_too_and_the_next_one_closes_it(
    emulator: Any, ledger_url: str, admin: Any
) -> None:
    """The events mode's reconciliation is a `Sweep` too (engine/watch_sweeps.py): the same holds."""
    emulator.add_queue("queue-support")
    emulator.set_heartbeat(0.2)
    ids = [emulator.create_conversation(idle_chat(40 + i))["id"] for i in range(CHATS)]
    settings = settings_for(ledger_url).model_copy(
        update={"events": EventsConfig(reconcile_interval=timedelta(seconds=3))}
    )
    outage = Outage(admin, lasts=1.5)
    lines: list[DecisionLine] = []
    with Ledger.open(ledger_url) as ledger:
        outage.arm(ledger)

        async def main() -> None:
            async with GenesysApi.connect(
                resolve(None, emulator.base_url), "emulator", "emulator-secret"
            ) as api:
                events = GenesysEvents(api, heartbeat_timeout=2.0, clock_sync=0.5)
                watch = Watch(
                    GenesysPlatform(api), ledger, events, settings, apply=True, on_line=lines.append
                )
                running = asyncio.create_task(watch.run())
                async with asyncio.timeout(20):
                    while not await asyncio.to_thread(lambda: all(ended(view(emulator, c)) for c in ids)):
                        assert not running.done()  # the watch goes on
                        await asyncio.sleep(0.2)
                watch.stop()
                await running

        asyncio.run(main())
    assert len(outage.cut) == 1
    cut = outage.cut[0]
    failed = [line for line in lines if line.outcome is Outcome.FAILED]
    assert [line.conversation_id for line in failed] == [cut]
    assert "connection lost" in str(failed[0].error) and PASSWORD not in str(failed[0].error)
    closed = {line.conversation_id for line in lines if line.outcome is Outcome.DONE}
    assert closed == set(ids)  # the others in the same reconciliation, the cut one after
    acts = writes_per_conversation(emulator.requests(), ids, refused_too=True)
    assert Counter(acts[cid]["text"] for cid in ids) == Counter({1: CHATS})


def test_a_ledger_down_when_the_pass_starts_ends_it_named_before_anything_is_asked(
    emulator: Any, ledger_url: str, admin: Any
) -> None:
    """Was: the pass's first journal call (its sweep row) raised out of the sweep, and serve logged
    "sweep crashed" with a traceback. Now the pass ends before it began, the ledger named (never its
    password), nothing asked of the platform; the next pass, the ledger back, closes them all."""
    ids = [emulator.create_conversation(idle_chat(40 + i))["id"] for i in range(CHATS)]
    settings = settings_for(ledger_url)
    down = threading.Event()
    with Ledger.open(ledger_url) as ledger:

        @event.listens_for(ledger.engine, "do_connect")
        def _refused(*_args: Any) -> None:
            if down.is_set():
                raise psycopg.OperationalError(REFUSED)

        down.set()
        app = make_url(ledger_url).query["application_name"]
        with (
            admin.begin() as connection
        ):  # every pooled connection gone with the server: each must connect again
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :app"),
                {"app": app},
            )
        asked = len(emulator.requests())
        first, _ = one_pass(emulator, ledger, settings)
        said = str(first.unfinished)
        assert "ledger postgresql://postgres:***@" in said and "connection lost" in said, said
        assert PASSWORD not in said
        assert first.lines == [] and first.aborted is None
        platform = [r["path"] for r in emulator.requests()[asked:] if r["path"] != "/oauth/token"]
        assert platform == []  # no discovery, no read: nothing spent on a pass that cannot journal

        down.clear()
        second, _ = one_pass(emulator, ledger, settings)
        assert second.unfinished is None
        assert {line.conversation_id: line.outcome for line in second.lines} == {
            cid: Outcome.DONE for cid in ids
        }
