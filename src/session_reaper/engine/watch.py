"""Events mode: a picture of each conversation from events, a re-check at its eligible_at, and
reconciliation sweeps for what events cannot show (list-and-watch, like a Kubernetes informer).

- Events keep the `Picture` (latest snapshot by content; duplicates and stragglers change nothing).
- A timer per conversation at its eligible_at (the core's `evaluate`) fires `reconcile(..., Trigger.EVENT)`
  with the same engine path, ledger and leases as a sweep, within caps of its own per window (one
  journal sweep row per `reconcile_interval`). The re-read decides: a timer that fired early by the
  re-read's Date is armed again at the eligible_at the re-read gives.
- A full analytics sweep at start (once the socket is open, or after `CONNECT_WAIT`), every
  `[events] reconcile_interval`, and at once after every reconnect (events are never replayed).
- Queues whose topic the platform rejected are polled every `[sweep] interval`, loudly.
Timers run on the platform's clock; `tick` bounds how long a clock step (a new Date header) goes unseen.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

from session_reaper.config import Settings
from session_reaper.core.results import DecisionLine, Outcome
from session_reaper.engine.leasing import new_owner
from session_reaper.engine.ledger_outage import LEDGER_LOST_REASON
from session_reaper.engine.picture import Picture
from session_reaper.engine.ports import (
    Connected,
    ConversationEvent,
    Disconnected,
    EventIgnored,
    EventsPort,
    JournalPort,
    PlatformPort,
    Refused,
    Subscriptions,
)
from session_reaper.engine.read_schedule import NotBefore
from session_reaper.engine.reconcile import Engine, Reconciled, Trigger, reconcile
from session_reaper.engine.sweep import Sweep
from session_reaper.engine.watch_hooks import NoHooks, WatchHooks
from session_reaper.engine.watch_journal import Windows, emit
from session_reaper.engine.watch_sweeps import SweepRunner, WatchSweeps
from session_reaper.errors import describe
from session_reaper.telemetry import logs

_log = logs.get_logger(component="watch")
RETRY_FAILED = timedelta(minutes=1)  # a re-check that could not read the platform is tried again then
_ENDS = frozenset({"close", "teardown"})  # a done close or teardown was verified: the conversation ended


class Watch(WatchSweeps):
    """The events mode's loop. Build it over the two ports and the events port, then `await run()`;
    `stop()` ends it (the re-checks and the sweep in flight finish). No global state: a benchmark
    builds as many as it likes.

    `not_before`: the read schedule its reconciliations share (serve's); `on_line`: every decision
    line, from a re-check or a sweep; `hooks`: what it tells its host (metrics); `run_sweep`: how a
    reconciliation is run (serve counts its passes), by default a plain `Sweep`; `tick`: the longest
    wait between two looks at the timers (how long a step of the platform clock goes unseen).
    """

    def __init__(
        self,
        platform: PlatformPort,
        journal: JournalPort,
        events: EventsPort,
        settings: Settings,
        *,
        apply: bool,
        not_before: NotBefore | None = None,
        on_line: Callable[[DecisionLine], None] | None = None,
        on_reconciled: Callable[[Reconciled], None] | None = None,
        hooks: WatchHooks | None = None,
        run_sweep: SweepRunner | None = None,
        owner: str | None = None,
        tick: float = 0.25,
    ) -> None:
        self.platform, self.journal, self.events, self.settings = platform, journal, events, settings
        self.apply = apply
        self.not_before = not_before if not_before is not None else NotBefore()
        self.hooks: WatchHooks = hooks or NoHooks()
        self._on_line = on_line
        self._on_reconciled = on_reconciled  # every re-check's result, as a sweep's (the console's live view)
        self.run_sweep = run_sweep or self._plain_sweep
        journal.clock = platform.now
        self.engine = Engine(platform, journal, settings, owner or new_owner())
        self.picture = Picture(self.engine.policy)
        self.tick = tick
        self.subscriptions: Subscriptions | None = None
        self.refused: Refused | None = None  # the platform refused a write or a read: said by /readyz
        self._windows = Windows(
            journal, settings.sweep, apply, self.engine.owner, settings.events.reconcile_interval
        )
        self._busy: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._gate = asyncio.Semaphore(settings.sweep.concurrency)
        self._reconcile_now = asyncio.Event()
        self._connected = asyncio.Event()
        self._stopped = asyncio.Event()
        self._passes = asyncio.Lock()  # sweeps never overlap (reconciliations and the rejected queues' polls)
        self._sweep: Sweep | None = None
        self._ended: dict[str, datetime] = {}  # closed by a re-check, when: the echoes of our own writes
        self._found: set[str] = set()  # what the running reconciliation read or was told to wait for
        # read-schedule entries the events alone made: trusted only while no event can have been missed
        self._from_events: set[str] = set()
        self._ignored = 0  # unreadable events so far

    # -- running --------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Start nothing new; the re-checks and the sweep in flight finish and are journalled."""
        self._stopped.set()
        self._reconcile_now.set()  # wakes the reconciliations' wait, which then sees the stop
        self._connected.set()
        if self._sweep is not None:
            self._sweep.stop()

    async def set_up(self) -> None:
        """Subscribe the queues in scope: the platform calls that can fail before anything listens.

        Apart from `run` so that a host can try it again after a refusal (a 429 burst, an outage)
        while it polls meanwhile, and start listening only once it worked.
        """
        await self._subscribe()

    async def run(self) -> None:
        """Subscribe (unless `set_up` did), then listen, fire timers and reconcile until stopped.

        Raises `Refused` at subscribe."""
        if self.subscriptions is None:
            await self.set_up()
        lookback = self.settings.sweep.lookback
        await self.engine.own.load(self.platform.now() - lookback - timedelta(days=1))
        loops = [self._listen(), self._timers(), self._reconciliations(), self._poll()]
        tasks = [asyncio.create_task(loop) for loop in loops]
        stopped = asyncio.create_task(self._stopped.wait())
        try:
            done, _ = await asyncio.wait({*tasks, stopped}, return_when=asyncio.FIRST_COMPLETED)
            for task in done - {stopped}:
                task.result()  # a loop that ended on its own: raised (a bug or the platform's refusal)
        except BaseException:
            for task in tasks:  # failing (or cancelled by the host): nothing is waited for
                task.cancel()
            raise
        finally:
            self.stop()
            tasks[0].cancel()  # the listener; the others end by themselves once stopped (a sweep finishes)
            stopped.cancel()
            await asyncio.gather(*tasks, stopped, return_exceptions=True)
            if self._tasks:  # re-checks in flight finish their steps and are journalled
                await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._windows.close()
            await self.events.aclose()

    async def _listen(self) -> None:
        async for signal in self.events.signals(self.engine.own.loaded_kinds):
            if isinstance(signal, ConversationEvent):
                self._event(signal)
            elif isinstance(signal, Connected):
                self._connected.set()
                self.hooks.connected(signal.reconnect)
                if signal.reconnect:
                    self._forget_what_events_said()
                    _log.warning(
                        "notification socket reconnected: reconciling now", channel=signal.channel_id
                    )
                    self._reconcile_now.set()
            elif isinstance(signal, Disconnected):
                self._forget_what_events_said()  # a gap: the next reconciliation reads them all again
                self.hooks.disconnected(signal.reason)
            elif isinstance(signal, EventIgnored):
                self._ignored += 1  # all counted; the first ten and every hundredth logged: no log flood
                if self._ignored <= 10 or self._ignored % 100 == 0:
                    _log.warning(
                        "event ignored", topic=signal.topic, reason=signal.reason, ignored=self._ignored
                    )
                self.hooks.ignored(signal.topic)

    def _event(self, event: ConversationEvent) -> None:
        now = self.platform.now()
        closed_at = self._ended.get(event.conversation.id)
        if closed_at is not None:  # the events of our own annotate, texts and disconnect, arriving late
            last = event.conversation.last_activity
            if last is not None and last.at > closed_at:
                del self._ended[event.conversation.id]  # someone wrote after the close: follow it again
            elif not any(p.in_after_call_work for p in event.conversation.participants):
                self.hooks.event(event.topic, None)
                return
            # else: the close left an agent in after-call work, a wrap-up owed (`acw-stuck`): followed.
            # Ignored with the echoes, it had no timer, and only a reconciliation found it, hours late
            # (the week's soak: 5,805 wrap-ups by reconciliations, a median of 7 h in after-call work).
        known = self.picture.get(event.conversation.id)
        latest = known.key[0] if known is not None else None  # read before `observe` updates it in place
        observed = self.picture.observe(event.conversation, now)
        lag = None
        changed = event.changed_at
        if observed.fresh and changed is not None and (latest is None or changed > latest):
            lag = max(0.0, (now - changed).total_seconds())  # the change moved time: it has a lag
        self.hooks.event(event.topic, lag)
        if observed.fresh:
            self._schedule_read(event.conversation.id, observed.due)

    def _schedule_read(self, conversation_id: str, due: datetime | None) -> None:
        """Tell the reconciliation sweep what the picture knows: no read before the timer.

        A conversation the events show whole needs no sweep read before its timer, even one no sweep
        has read yet (every new chat): its timer's re-check reads it before anything is done. Such an
        entry has no participants fingerprint (that is analytics' view); it holds only while the socket
        has had no gap, and is forgotten at the first sign of one.
        """
        if due is None:
            return
        known = self.not_before.until.get(conversation_id)
        if known is None:
            self.not_before.remember(conversation_id, due)
            self._from_events.add(conversation_id)
            return
        self.not_before.remember(
            conversation_id, due, known.conversation_start, known.participants_fingerprint
        )

    def _forget_what_events_said(self) -> None:
        """A gap: forget the entries only events made. One a sweep has read since (it has analytics'
        participants fingerprint) stays: a change in the gap that could bring it due sooner (someone
        left, joined, went to after-call work) changes that fingerprint, and a message only delays it.
        Forgetting those too had every reconnect re-read every conversation first seen in an event:
        thousands of reads, a budget's quarter hour on the real platform (a week's soak at 120x:
        reconciliations of 5,000 conversations lasting virtual hours, the open set growing)."""
        for conversation_id in self._from_events:
            known = self.not_before.until.get(conversation_id)
            if known is not None and known.participants_fingerprint is None:
                self.not_before.remember(conversation_id, None)
        self._from_events.clear()

    # -- timers ---------------------------------------------------------------------------------------

    async def _timers(self) -> None:
        while not self._stopped.is_set():
            now = self.platform.now()
            for cid in self.picture.pop_due(now):
                if cid not in self._busy:
                    self._busy.add(cid)
                    task = asyncio.create_task(self._recheck(cid))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            self.hooks.armed(self.picture.armed)
            due = self.picture.next_due()
            wait = self.tick if due is None else min(self.tick, max(0.0, (due - now).total_seconds()))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(wait, 0.01)):  # not wait_for: gh-86296
                    await self._stopped.wait()

    async def _recheck(self, conversation_id: str) -> None:
        try:
            async with self._gate:
                if self._stopped.is_set():
                    return
                window = await self._windows.current()
                with logs.conversation(conversation_id):
                    try:
                        done = await reconcile(
                            self.engine,
                            conversation_id,
                            Trigger.EVENT,
                            sweep_id=window.sweep_id,
                            apply=self.apply,
                            caps=window.caps,
                        )
                    except Refused as exc:
                        _log.error("re-check refused by the platform", error=str(exc))
                        self.refused = exc
                        self.picture.rearm(conversation_id, self.platform.now() + RETRY_FAILED)
                        return
                    self._settle(conversation_id, done)
                    if done.emit:
                        await emit(self.journal, window.sweep_id, window.summary, done, self._on_line)
                    self.refused = done.stop if done.stop is not None else None
        except Exception as exc:
            # The ledger lost under it (PostgreSQL restarted: the soak's week), or anything else no one
            # foresaw: this conversation's trouble only. Left to itself the task died unretrieved ("Task
            # exception was never retrieved", a traceback per re-check) and its timer with it, until the
            # next reconciliation. Said in one line and looked at again in a minute; a step it left open
            # is settled from the platform's state first, as after a crash.
            _log.warning(
                "re-check failed: looked at again in a minute",
                conversation_id=conversation_id,
                error=describe(exc),
            )
            self.picture.rearm(conversation_id, self.platform.now() + RETRY_FAILED)
        finally:
            self._busy.discard(conversation_id)

    def _settle(self, conversation_id: str, done: Reconciled) -> None:
        """After a re-check: the read snapshot into the picture, and when to look again."""
        if self._on_reconciled is not None:
            self._on_reconciled(done)
        line = done.line
        if done.conversation is None:  # not read: gone (drop it), failed or held elsewhere (try again)
            if line.outcome in (Outcome.FAILED, Outcome.DEFERRED):
                self.picture.rearm(conversation_id, done.now + RETRY_FAILED)
            else:
                self.picture.drop(conversation_id)
            return
        if line.outcome is Outcome.DONE and line.decision in _ENDS:
            self.picture.drop(conversation_id)  # verified ended: its own events must not bring it back
            self._ended[conversation_id] = done.now
            return
        self.seen(done)
        seen = self.picture.get(conversation_id)
        if seen is None or seen.due is None or seen.due > done.now:
            return
        # Due now, and this re-check already did what could be done: acted (its own events follow),
        # dry run, another reaper's lease, a cap. Wait for the next change or reconciliation.
        retry = line.outcome is Outcome.FAILED
        self.picture.rearm(conversation_id, done.now + RETRY_FAILED if retry else None)

    def seen(self, done: Reconciled) -> None:
        """A conversation read by a re-check or a sweep: into the picture (the sweep's `on_reconciled`)."""
        if done.conversation is None:
            if done.line.outcome is Outcome.SKIPPED:
                self.picture.drop(done.line.conversation_id)
            elif done.line.reason == LEDGER_LOST_REASON:
                # A reconciliation's act cut off by a lost ledger (fix 38): looked at again in a minute, as
                # a re-check that lost it is (fix 34), not at the next reconciliation (10 minutes by
                # default). Only these few (one per worker in flight): conversations whose reads failed
                # in a 5xx storm wait for the next reconciliation, not all for the same minute.
                self.picture.rearm(done.line.conversation_id, done.now + RETRY_FAILED)
            return
        observed = self.picture.observe(done.conversation, done.now)
        if not observed.fresh and done.conversation.id in self.picture:
            self.picture.reevaluate(done.conversation.id, done.now)
        if done.trigger is Trigger.SWEEP and not self.picture.holds_newer(done.conversation):
            # The sweep just decided it. Not so when events showed more since its read (its own close's
            # disconnect, an agent now in after-call work): that timer is for a decision still to come.
            # Cleared, the owed wrap-up waited for the next reconciliation (the week's soak: 420 so).
            seen = self.picture.get(done.conversation.id)
            if seen is not None and seen.due is not None and seen.due <= done.now:
                self.picture.rearm(done.conversation.id, None)
