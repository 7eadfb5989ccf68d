"""One pass: discover -> reconcile each conversation, with caps, bounded concurrency and the platform's clock.

A sweep reads each conversation in scope once (unless an earlier pass proved it cannot become
eligible yet: the read schedule, `NotBefore`) and hands it to `reconcile`, which decides and, within
the per-sweep caps, acts. Decisions stream out as they are made; the summary comes last.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from session_reaper.config import Settings
from session_reaper.core.model import Conversation, DiscoveredConversation, DiscoveryScope
from session_reaper.core.results import DecisionLine, Outcome, Summary
from session_reaper.core.rules import Action, Verdict
from session_reaper.engine.leasing import new_owner
from session_reaper.engine.ledger_outage import LEDGER_LOST_REASON, LedgerOutage
from session_reaper.engine.limits import Caps
from session_reaper.engine.off_loop import journalled
from session_reaper.engine.own_messages import OwnMessages
from session_reaper.engine.ports import JournalPort, PlatformError, PlatformPort, Refused, Windows
from session_reaper.engine.read_schedule import NotBefore as NotBefore
from session_reaper.engine.read_schedule import policy_fingerprint
from session_reaper.engine.reconcile import UNSETTLED_REASON, Engine, Reconciled, Trigger, reconcile
from session_reaper.engine.recording import journal_line
from session_reaper.engine.recovery import recover_pending
from session_reaper.engine.selection import Selection
from session_reaper.errors import ReaperError, leaves
from session_reaper.telemetry import logs

_log = logs.get_logger()


@dataclass
class SweepResult:
    lines: list[DecisionLine]
    summary: Summary
    aborted: BaseException | None = None  # an authentication or permission error stops the sweep
    # the pass could not go on (discovery failed, the ledger lost and not back): exit 1
    unfinished: ReaperError | None = None


class Sweep:
    def __init__(
        self,
        platform: PlatformPort,
        journal: JournalPort,
        settings: Settings,
        *,
        apply: bool,
        owner: str | None = None,
        not_before: NotBefore | None = None,
        on_line: Callable[[DecisionLine], None] | None = None,
        on_conversation: Callable[[], None] | None = None,
        selection: Selection | None = None,
        own: OwnMessages | None = None,
        on_reconciled: Callable[[Reconciled], None] | None = None,
    ) -> None:
        """`own`: share the reaper's own texts with another loop (events mode); `on_reconciled`: see
        every conversation as reconciled (its snapshot and verdict), before it is emitted."""
        self.platform = platform
        self.selection = selection if selection is not None else Selection()
        self.journal = journal
        self.settings = settings
        self.apply = apply
        self.owner = owner or new_owner()
        self.not_before = not_before if not_before is not None else NotBefore()
        self._on_line = on_line
        self._on_conversation = on_conversation
        # Everything reconciling learnt of a conversation (as read, verdict, pending): the live view's.
        self._on_reconciled = on_reconciled
        # Journal times must compare with the platform's (completed_step's `since`), never the machine's.
        journal.clock = self.now
        self.engine = Engine(platform, journal, settings, self.owner)
        if own is not None:
            self.engine.own = own
        self._fingerprint = policy_fingerprint(settings)
        self._caps = Caps(settings.sweep.max_closes, settings.sweep.max_teardowns)
        # Older analytics windows are looked at on their own slower cadence, but only by passes that
        # act: a dry run shows everything there is (None: every window is looked at).
        self._windows: Windows | None = None
        self._unsettled: frozenset[str] = frozenset()  # recovery could not settle their intents
        self._lines: list[DecisionLine] = []
        self._summary = Summary()
        self._stopping = False  # set by stop(): no new conversation is started
        # A ledger whose connection is lost under the pass: waited for, given up on (fix 38).
        self._outage = LedgerOutage(journal, self.owner, lambda: self._stopping)

    def stop(self) -> None:
        """Start no new conversation; those being acted on finish and are journalled (`serve`, SIGTERM)."""
        self._stopping = True

    def now(self) -> datetime:
        return self.platform.now()

    async def read(self, conversation_id: str) -> Conversation:
        """The generic view, with the reaper's own texts known (`explain`)."""
        return await self.platform.read(conversation_id, await self.engine.own.kinds(conversation_id))

    async def run(self) -> SweepResult:
        started = time.monotonic()
        requests_before = self.platform.requests_made
        try:
            sweep_id = await journalled(self.journal.start_sweep, self.apply, owner=self.owner)
        except Exception as exc:
            # The ledger lost before the pass began (its own row): nothing was asked or done, so the
            # pass ends named, not as a traceback; the next one begins again.
            lost = self._outage.lost(exc)
            if lost is None:
                raise
            return SweepResult(self._lines, self._summary, None, lost)
        aborted: BaseException | None = None
        unfinished: ReaperError | None = None
        try:
            unfinished = await self._pass(sweep_id)
        except* Refused as group:
            # Nothing else can succeed without the permission or the credentials: stop, no retry storm.
            aborted = group.exceptions[0]
        except* PlatformError as group:
            # Discovery (or recovery) could not be answered after its retries: nothing more can be
            # decided this pass. Said in one line, never a traceback; the next pass tries again.
            unfinished = next(e for e in leaves(group) if isinstance(e, PlatformError))
        finally:
            self._summary.api_requests = self.platform.requests_made - requests_before
            self._summary.duration_seconds = time.monotonic() - started
            await self._outage.give_back()
            await self._save_schedule()
            await self._finish(sweep_id)
        return SweepResult(self._lines, self._summary, aborted, unfinished)

    async def _pass(self, sweep_id: int) -> ReaperError | None:
        """Recovery, the schedule, the workers; what made the pass end early, if anything did."""
        try:
            settled: set[str] = set()
            if self.apply and self.selection.everything:  # --only/--plan: nothing but those
                self._unsettled = await recover_pending(
                    self.platform, self.journal, self.engine.own, owner=self.owner, settled=settled
                )
            # One query per sweep instead of one per conversation; a day of margin past the lookback.
            await self.engine.own.load(self.now() - self.settings.sweep.lookback - timedelta(days=1))
            self.not_before.load(await journalled(self.journal.read_schedule, self._fingerprint, self.now()))
            for conversation_id in settled:  # an interrupted close (a text sent, no disconnect): now
                self.not_before.remember(conversation_id, None)
            if self.apply:
                self._windows = self.platform.windows(await journalled(self.journal.window_scans))
            await self._sweep(sweep_id)
        except Exception as exc:
            # The ledger lost outside any one conversation (recovery, loading the schedule): nothing
            # was started, so nothing is half-done; the pass ends named, not as a traceback. Anything
            # else (a table gone) fails the pass as it is, its own words kept (serve names it).
            lost = self._outage.lost(exc)
            if lost is None:
                raise
            return lost
        return self._outage.gone

    async def _finish(self, sweep_id: int) -> None:
        try:
            await journalled(self.journal.finish_sweep, sweep_id, self._summary.to_json()["summary"])
        except Exception as exc:
            lost = self._outage.lost(exc)
            if lost is None:
                raise
            # Its row is left unfinished, as a killed pass's is; the buffered lines stay buffered and
            # are written with the next batch. What the pass did is journalled step by step already.
            _log.warning("sweep not journalled as finished: the ledger's connection is lost", error=str(lost))

    async def _sweep(self, sweep_id: int) -> None:
        sweep = self.settings.sweep
        queue: asyncio.Queue[DiscoveredConversation | None] = asyncio.Queue(maxsize=sweep.concurrency * 4)
        seen: set[str] = set()

        async def produce() -> None:
            # Discovery completes before anything is closed: closing conversations while paging
            # through the analytics answer would shift its pages and skip conversations.
            found = [c async for c in self._candidates()]
            for conversation in found:
                if conversation.conversation_id in seen:
                    continue
                seen.add(conversation.conversation_id)
                if self._due(conversation):
                    await queue.put(conversation)
                elif self.selection.list_unread:  # a dry run shows what the schedule holds back
                    cid, now = conversation.conversation_id, self.now()
                    until = self.not_before.until[cid].until
                    await self._emit(sweep_id, *self.selection.unread(cid, until, now), now)
            # The end markers only on success: when anything failed, the task group cancels the
            # workers itself, and waiting here for room in a queue nobody reads would hang the pass.
            for _ in range(sweep.concurrency):
                await queue.put(None)

        async def work() -> None:
            while (found := await queue.get()) is not None:
                # once stopping (or the ledger gone for good), drain the queue without acting
                if not self._stopping and await self._outage.answers():
                    await self._reconcile(sweep_id, found)

        async with asyncio.TaskGroup() as group:
            group.create_task(produce())
            for _ in range(sweep.concurrency):
                group.create_task(work())
        # A stopped pass, or one over named conversations, did not see everything in scope.
        if not self._stopping and self._outage.gone is None and self.selection.everything:
            book = self._windows
            self.not_before.forget_missing(seen, book.not_looked_at if book else lambda _: False)

    async def _save_schedule(self) -> None:
        if self._windows is not None:
            try:
                await journalled(self.journal.save_window_scans, self._windows.changed)
            except Exception as exc:  # an optimisation only: the next run just looks again
                _log.warning("discovery windows not saved", error=str(exc))
        keep, forget = self.not_before.take_changes()
        try:
            await journalled(self.journal.save_read_schedule, self._fingerprint, self.now(), keep, forget)
        except Exception as exc:  # an optimisation only: the next run just reads more
            _log.warning("read schedule not saved", error=str(exc))

    def _discover(self) -> AsyncIterator[DiscoveredConversation]:
        sweep = self.settings.sweep
        scope = DiscoveryScope(sweep.channels, sweep.queues.include, sweep.queues.exclude, sweep.lookback)
        return self.platform.discover(scope, self.now(), self._windows)

    async def _candidates(self) -> AsyncIterator[DiscoveredConversation]:
        """Discovery's answer, or the conversations named (--only, --plan), read directly by id."""
        named = self.selection.ids()
        if named is None:
            async for conversation in self._discover():
                yield conversation
            return
        for conversation_id in named:
            yield DiscoveredConversation(conversation_id, None, frozenset(), frozenset())

    def _due(self, found: DiscoveredConversation) -> bool:
        """Read now? Named conversations and --fresh always are; others when the schedule says so."""
        cid, now = found.conversation_id, self.now()
        due = self.not_before.due(cid, now, found.started_at, found.participants_fingerprint)
        return due or self.selection.fresh or not self.selection.everything

    async def _reconcile(self, sweep_id: int, found: DiscoveredConversation) -> None:
        cid = found.conversation_id
        with logs.conversation(cid):
            if cid in self._unsettled:  # an interrupted step of its own is not settled yet
                now = self.now()
                line = DecisionLine(cid, None, Action.SKIP.value, Outcome.FAILED, UNSETTLED_REASON)
                await self._emit(sweep_id, line, None, now)
                return
            try:
                done = await reconcile(
                    self.engine,
                    cid,
                    Trigger.SWEEP,
                    sweep_id=sweep_id,
                    apply=self.apply,
                    caps=self._caps,
                    selection=self.selection,
                    seen_participants=found.participants_fingerprint,
                )
            except Exception as exc:
                lost = self._outage.lost(exc)
                if lost is None:
                    raise  # a fault that will not mend itself (a table gone): the pass fails, named
                await self._cut_off(sweep_id, found, lost)
                return
            self.reconciled(found, done)
            if self._on_reconciled is not None:
                self._on_reconciled(done)
            if done.emit:
                await self._emit(sweep_id, done.line, done.verdict, done.now)
            if done.stop is not None:
                raise done.stop

    async def _cut_off(self, sweep_id: int, found: DiscoveredConversation, lost: ReaperError) -> None:
        """A conversation whose journal call lost the ledger's connection (PostgreSQL restarted, a
        failover): its trouble only. It is `failed`, naming the ledger, and read again next pass.
        Whatever it left open (an intent whose outcome could not be journalled) stays open: the next
        pass's recovery settles it from the platform's state, as after a crash. Its lease (ours) is
        given back once the ledger answers, so that the next pass need not wait it out; nothing waits
        here for that: a pass with nothing left to start ends at once."""
        cid = found.conversation_id
        self._outage.cut_off(cid, sweep_id, lost)
        line = DecisionLine(cid, None, Action.SKIP.value, Outcome.FAILED, LEDGER_LOST_REASON)
        line.error = str(lost)
        done = Reconciled(line, None, self.now(), Trigger.SWEEP)
        self.reconciled(found, done)  # not read to its end: read again next pass
        if self._on_reconciled is not None:
            self._on_reconciled(done)
        await self._emit(sweep_id, line, None, done.now)

    def reconciled(self, found: DiscoveredConversation, done: Reconciled) -> None:
        """Keep what reconciling taught about when to read the conversation again."""
        if done.keep_schedule:
            return
        if done.conversation is None:  # not read
            self.not_before.remember(found.conversation_id, None)
        else:
            fingerprint = found.participants_fingerprint
            self.not_before.remember(found.conversation_id, done.until, found.started_at, fingerprint)

    async def _emit(self, sweep_id: int, line: DecisionLine, verdict: Verdict | None, now: datetime) -> None:
        try:
            await journal_line(self.journal, sweep_id, line, verdict, now, _log)
        except Exception as exc:
            lost = self._outage.lost(exc)
            if lost is None:
                raise
            # Its batch could not be written: a buffered line stays buffered (`buffer_decision`), written
            # with the next batch; the next conversation waits for the ledger to answer.
            self._outage.note(lost)
        self._lines.append(line)
        self._summary.count(line)
        if self._on_line is not None:
            self._on_line(line)
        if self._on_conversation is not None:
            self._on_conversation()
