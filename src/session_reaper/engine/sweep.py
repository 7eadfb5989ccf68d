"""One pass: discover -> evaluate -> act, with caps, bounded concurrency and the platform's clock.

A sweep reads each conversation in scope once (unless an earlier pass proved it cannot become
eligible yet), lets the pure rules decide, and hands the eligible ones to the executor within the
per-sweep caps. Decisions stream out as they are made; the summary comes last.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from session_reaper.config import Settings
from session_reaper.core.model import ActivityKind, Conversation
from session_reaper.core.plan import plan
from session_reaper.core.results import DecisionLine, Outcome, Summary
from session_reaper.core.rules import Action, Verdict, evaluate, reread_at
from session_reaper.core.vocabulary import own_activity
from session_reaper.engine.executor import Executor
from session_reaper.engine.leasing import acquire, new_owner
from session_reaper.engine.recording import QueueNames, idle_seconds
from session_reaper.engine.recovery import recover_pending
from session_reaper.engine.selection import Selection
from session_reaper.genesys.api import GenesysApi
from session_reaper.genesys.capabilities import WriteProof
from session_reaper.genesys.discovery import DiscoveredConversation, WindowBook, discover
from session_reaper.genesys.errors import (
    AuthenticationFailed,
    GenesysError,
    NotFound,
    PermissionMissing,
)
from session_reaper.genesys.mapping import to_conversation
from session_reaper.ledger import Ledger, ScheduledRead
from session_reaper.telemetry import logs

_log = logs.get_logger()
_CAPPED_CLOSES = frozenset({Action.CLOSE, Action.WARN})


@dataclass
class NotBefore:
    """Conversations proven unable to become eligible before a time: not read again until then.

    Kept across passes by `serve`, and in the ledger between one-shot runs (`read_schedule`), where
    an entry counts only for the same conversation (its start time) under the same policy.
    """

    until: dict[str, ScheduledRead] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)  # remembered or forgotten since the last save

    def due(
        self,
        conversation_id: str,
        now: datetime,
        started_at: datetime | None = None,
        participants: str | None = None,
    ) -> bool:
        read = self.until.get(conversation_id)
        if read is None:
            return True
        if read.conversation_start and started_at and read.conversation_start != started_at:
            self.remember(conversation_id, None)  # another conversation under the same id
            return True
        if read.participants_fingerprint and participants != read.participants_fingerprint:
            self.remember(conversation_id, None)  # someone joined or left: read it now
            return True
        return read.until <= now

    def remember(
        self,
        conversation_id: str,
        until: datetime | None,
        started_at: datetime | None = None,
        participants: str | None = None,
    ) -> None:
        if until is not None:
            self.until[conversation_id] = ScheduledRead(until, started_at, participants)
        else:
            self.until.pop(conversation_id, None)
        self.changed.add(conversation_id)

    def forget_missing(self, seen: set[str], unseen_started: Callable[[datetime | None], bool]) -> None:
        """Forget conversations discovery no longer lists, but not those in windows it did not look at."""
        for conversation_id, read in list(self.until.items()):
            if conversation_id not in seen and not unseen_started(read.conversation_start):
                self.remember(conversation_id, None)

    def load(self, reads: Mapping[str, ScheduledRead]) -> None:
        """Entries from the ledger; what this process already knows wins."""
        for conversation_id, read in reads.items():
            self.until.setdefault(conversation_id, read)

    def take_changes(self) -> tuple[dict[str, ScheduledRead], set[str]]:
        """(entries to write, ids to delete) since the last call."""
        changed, self.changed = self.changed, set()
        keep = {cid: self.until[cid] for cid in changed if cid in self.until}
        return keep, changed - set(keep)


def policy_fingerprint(settings: Settings) -> str:
    """What a read schedule depends on: a schedule made under other thresholds or scope is not used."""
    relevant = {
        "sweep": settings.sweep.model_dump(
            mode="json",
            include={"channels", "queues", "exempt_attribute", "respect_platform_timer", "lookback"},
        ),
        "rules": settings.rules.model_dump(mode="json"),
        "close": settings.close.model_dump(
            mode="json", include={"warn_before", "allow_teardown", "wrapup_code"}
        ),
        "schedule": settings.schedule.model_dump(mode="json"),
    }
    text = json.dumps(relevant, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class SweepResult:
    lines: list[DecisionLine]
    summary: Summary
    aborted: BaseException | None = None  # an authentication or permission error stops the sweep
    unfinished: GenesysError | None = None  # the pass could not go on (discovery failed): exit 1


class Sweep:
    def __init__(
        self,
        api: GenesysApi,
        ledger: Ledger,
        settings: Settings,
        *,
        apply: bool,
        owner: str | None = None,
        not_before: NotBefore | None = None,
        write_proof: WriteProof | None = None,
        on_line: Callable[[DecisionLine], None] | None = None,
        on_conversation: Callable[[], None] | None = None,
        selection: Selection | None = None,
    ) -> None:
        self.api = api
        self.selection = selection if selection is not None else Selection()
        self.ledger = ledger
        self.settings = settings
        self.apply = apply
        self.owner = owner or new_owner()
        self.not_before = not_before if not_before is not None else NotBefore()
        self.write_proof = write_proof if write_proof is not None else WriteProof()
        self._on_line = on_line
        self._on_conversation = on_conversation
        # Journal times must compare with the platform's (completed_step's `since`), never the machine's.
        ledger.clock = self.now
        self._policy = settings.policy()
        self._fingerprint = policy_fingerprint(settings)
        self._closes_left = settings.sweep.max_closes
        self._teardowns_left = settings.sweep.max_teardowns
        self._own: dict[str, dict[str, str]] | None = None  # the reaper's own message ids, per sweep
        # Older analytics windows are looked at on their own slower cadence, but only by passes that
        # act: a dry run shows everything there is (None: every window is looked at).
        self._windows: WindowBook | None = None
        self._lines: list[DecisionLine] = []
        self._summary = Summary()
        self._queue_names = QueueNames(api, ledger)  # the report names queues: read once, when acting
        self._stopping = False  # set by stop(): no new conversation is started
        self._executor = Executor(
            api,
            ledger,
            self.read,
            self.recheck,
            settings.close_settings(),
            self._policy,
            verify_timeout=settings.sweep.verify_timeout,
            on_message=self.remember_message,
            now=self.now,
        )

    def stop(self) -> None:
        """Start no new conversation; those being acted on finish and are journalled (`serve`, SIGTERM)."""
        self._stopping = True

    def now(self) -> datetime:
        return self.api.clock.now()

    async def read(self, conversation_id: str) -> Conversation:
        """The generic view: states, message times, wrap-up, and the communication ids to act with."""
        view = await self.api.get_conversation(conversation_id)
        return to_conversation(view, self._own_messages(conversation_id), conversation_id=conversation_id)

    async def recheck(self, conversation_id: str) -> Conversation:
        """The media view: the same facts without communication ids, for the look just before acting."""
        view = await self.api.get_message_conversation(conversation_id)
        return to_conversation(view, self._own_messages(conversation_id), conversation_id=conversation_id)

    def _own_messages(self, conversation_id: str) -> dict[str, ActivityKind]:
        if self._own is None:  # outside a run (explain): ask the journal for this one conversation
            own = self.ledger.reaper_messages(conversation_id)
        else:
            own = self._own.get(conversation_id, {})
        return {mid: own_activity(kind) for mid, kind in own.items()}

    def remember_message(self, conversation_id: str, message_id: str, kind: str) -> None:
        """A text the reaper just sent: journalled by the executor, known to this sweep at once."""
        if self._own is not None:
            self._own.setdefault(conversation_id, {})[message_id] = kind

    def _load_own_messages(self) -> None:
        # One query per sweep instead of one per conversation; a day of margin past the lookback.
        since = self.now() - self.settings.sweep.lookback - timedelta(days=1)
        self._own = self.ledger.reaper_messages_since(since)

    async def run(self) -> SweepResult:
        started = time.monotonic()
        requests_before = self.api.stats.total
        sweep_id = self.ledger.start_sweep(self.apply, owner=self.owner)
        aborted: BaseException | None = None
        unfinished: GenesysError | None = None
        try:
            if self.apply and self.selection.everything:  # --only/--plan: nothing but those
                await recover_pending(self.api, self.ledger, self.read, owner=self.owner)
            self._load_own_messages()
            self.not_before.load(self.ledger.read_schedule(self._fingerprint, self.now()))
            if self.apply:
                self._windows = WindowBook(self.ledger.window_scans())
            await self._sweep(sweep_id)
        except* (PermissionMissing, AuthenticationFailed) as group:
            # Nothing else can succeed without the permission or the credentials: stop, no retry storm.
            aborted = group.exceptions[0]
        except* GenesysError as group:
            # Discovery (or recovery) could not be answered after its retries: nothing more can be
            # decided this pass. Said in one line, never a traceback; the next pass tries again.
            unfinished = next(e for e in _leaves(group) if isinstance(e, GenesysError))
        finally:
            self._summary.api_requests = self.api.stats.total - requests_before
            self._summary.duration_seconds = time.monotonic() - started
            self._save_schedule()
            self.ledger.finish_sweep(sweep_id, self._summary.to_json()["summary"])
        return SweepResult(self._lines, self._summary, aborted, unfinished)

    async def _sweep(self, sweep_id: int) -> None:
        sweep = self.settings.sweep
        queue: asyncio.Queue[DiscoveredConversation | None] = asyncio.Queue(maxsize=sweep.concurrency * 4)
        seen: set[str] = set()

        async def produce() -> None:
            try:
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
                        self._emit(sweep_id, *self.selection.unread(cid, until, now), now)
            finally:
                for _ in range(sweep.concurrency):
                    await queue.put(None)

        async def work() -> None:
            while (found := await queue.get()) is not None:
                if not self._stopping:  # once stopping, drain the queue without acting
                    await self._decide_and_act(sweep_id, found)

        async with asyncio.TaskGroup() as group:
            group.create_task(produce())
            for _ in range(sweep.concurrency):
                group.create_task(work())
        # A stopped pass, or one over named conversations, did not see everything in scope.
        if not self._stopping and self.selection.everything:
            book = self._windows
            self.not_before.forget_missing(seen, book.not_looked_at if book else lambda _: False)

    def _save_schedule(self) -> None:
        if self._windows is not None:
            try:
                self.ledger.save_window_scans(self._windows.changed)
            except Exception as exc:  # an optimisation only: the next run just looks again
                _log.warning("discovery windows not saved", error=str(exc))
        keep, forget = self.not_before.take_changes()
        try:
            self.ledger.save_read_schedule(self._fingerprint, self.now(), keep, forget)
        except Exception as exc:  # an optimisation only: the next run just reads more
            _log.warning("read schedule not saved", error=str(exc))

    def _discover(self) -> AsyncIterator[DiscoveredConversation]:
        sweep = self.settings.sweep
        return discover(
            self.api,
            channels=sweep.channels,
            queue_include=sweep.queues.include,
            queue_exclude=sweep.queues.exclude,
            lookback=sweep.lookback,
            now=self.now(),
            book=self._windows,
        )

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

    async def _decide_and_act(self, sweep_id: int, found: DiscoveredConversation) -> None:
        with logs.conversation(found.conversation_id):
            await self._decide_and_act_logged(sweep_id, found)

    async def _decide_and_act_logged(self, sweep_id: int, found: DiscoveredConversation) -> None:
        conversation_id = found.conversation_id
        try:
            conversation = await self.read(conversation_id)
        except NotFound:
            if self.selection.named(conversation_id):  # asked for by id: say it is not there
                now = self.now()
                self._emit(sweep_id, *self.selection.missing(conversation_id, now), now)
                return
            # Ended and gone between discovery and this read: nothing left to do, and no failure.
            self._unread(sweep_id, conversation_id, Outcome.SKIPPED, "no longer on the platform: ended")
            return
        except (PermissionMissing, AuthenticationFailed):
            raise
        except GenesysError as exc:
            # This conversation's trouble (5xx storm, timeouts, an unreadable answer) is its own:
            # nothing is done on it, the others go on, and the next pass reads it again.
            self._unread(sweep_id, conversation_id, Outcome.FAILED, "could not be read: nothing done", exc)
            return
        now = self.now()
        verdict = evaluate(conversation, now, self._policy)
        seen = found.participants_fingerprint
        until = reread_at(conversation, now, self._policy, verdict, changes_visible=seen is not None)
        self.not_before.remember(conversation_id, until, found.started_at, seen)
        line = DecisionLine(
            conversation_id,
            verdict.rule,
            verdict.action.value,
            Outcome.SKIPPED,
            verdict.reason,
            queue_id=next(iter(sorted(conversation.queue_ids)), None),
            channel=conversation.channel or None,
        )
        if (changed := self.selection.cancels(conversation_id, verdict)) is not None:
            planned = self.selection.planned(conversation_id)
            assert planned is not None
            line.rule, line.decision, line.reason = planned.rule, planned.decision, changed
            line.outcome = Outcome.CANCELLED  # the reviewed line no longer holds: never forced
        elif verdict.action is Action.SKIP:
            line.outcome = Outcome.SKIPPED
        elif verdict.action is Action.DEFER:
            line.outcome = Outcome.DEFERRED
        elif not self._within_caps(verdict):
            line.outcome = Outcome.DEFERRED
            line.reason = f"{verdict.reason}; deferred: per-sweep cap reached"
            self.not_before.remember(conversation_id, None)
        elif not self.apply:
            line.outcome = Outcome.DRY_RUN
            line.steps = [s.kind.value for s in plan(conversation, verdict, self.settings.close_settings())]
        else:
            line = await self._act(sweep_id, conversation, verdict, line)
        self._emit(sweep_id, line, verdict, now)

    def _unread(
        self,
        sweep_id: int,
        conversation_id: str,
        outcome: Outcome,
        reason: str,
        error: GenesysError | None = None,
    ) -> None:
        """The line of a conversation that could not be read: skipped (gone) or failed (trouble)."""
        self.not_before.remember(conversation_id, None)
        line = DecisionLine(conversation_id, None, Action.SKIP.value, outcome, reason)
        line.error = str(error) if error is not None else None
        self._emit(sweep_id, line, None, self.now())

    def _within_caps(self, verdict: Verdict) -> bool:
        if verdict.action in _CAPPED_CLOSES:
            if self._closes_left <= 0:
                return False
            self._closes_left -= 1
        elif verdict.action is Action.TEARDOWN:
            if self._teardowns_left <= 0 or self._closes_left <= 0:
                return False
            self._teardowns_left -= 1
            self._closes_left -= 1
        return True

    async def _act(
        self, sweep_id: int, conversation: Conversation, verdict: Verdict, line: DecisionLine
    ) -> DecisionLine:
        try:
            # Before the first write: every write this configuration needs is allowed (once per process).
            await self.write_proof.prove(self.api, self.settings)
        except (PermissionMissing, AuthenticationFailed):
            raise
        except GenesysError as exc:
            line.outcome, line.error = Outcome.FAILED, f"write permissions could not be proven: {exc}"
            return line
        ledger = self.ledger
        now = self.now()
        ttl = max(timedelta(minutes=2), self.settings.sweep.verify_timeout * 4)
        if not acquire(ledger, conversation.id, self.owner, ttl=ttl, now=now):
            line.outcome = Outcome.SKIPPED
            line.reason = "another reaper is acting on this conversation"
            return line
        try:
            decision_id = ledger.record_decision(
                sweep_id,
                conversation.id,
                rule=verdict.rule,
                decision=verdict.action.value,
                reason=verdict.reason,
                threshold_seconds=verdict.threshold.total_seconds() if verdict.threshold else None,
                idle_seconds=idle_seconds(conversation, now),
                held_seconds=(now - verdict.since).total_seconds() if verdict.since else None,
                queue_id=line.queue_id,
                channel=line.channel,
                platform_now=now,
            )
            await self._queue_names.remember(line.queue_id)
            try:
                result = await self._executor.execute(conversation, verdict, decision_id)
            except (PermissionMissing, AuthenticationFailed) as exc:
                self.write_proof.forget()  # the role changed under us: prove again before writing
                ledger.set_decision_outcome(decision_id, Outcome.FAILED.value, error=str(exc))
                line.outcome, line.error, line.decision_id = Outcome.FAILED, str(exc), decision_id
                self._emit(sweep_id, line, verdict, now)
                raise
            result.queue_id, result.channel, result.decision_id = line.queue_id, line.channel, decision_id
            ledger.set_decision_outcome(decision_id, result.outcome.value, error=result.error)
            return result
        finally:
            ledger.release(conversation.id, self.owner)

    def _emit(self, sweep_id: int, line: DecisionLine, verdict: Verdict | None, now: datetime) -> None:
        if line.decided_at is None:
            line.decided_at = now
        threshold = verdict.threshold if verdict is not None else None
        if line.decision_id is None:
            # Acted-on conversations were journalled before acting; the rest is journalled in bulk.
            self.ledger.buffer_decision(
                sweep_id,
                line.conversation_id,
                rule=line.rule,
                decision=line.decision,
                outcome=line.outcome.value,
                reason=line.reason,
                threshold_seconds=threshold.total_seconds() if threshold else None,
                queue_id=line.queue_id,
                channel=line.channel,
                platform_now=now,
            )
        log_line = _log.info if line.decision not in ("skip", "defer") else _log.debug
        log_line(
            "decided",
            rule=line.rule,
            decision=line.decision,
            outcome=line.outcome.value,
            reason=line.reason,
            steps=line.steps,
            error=line.error,
        )
        self._lines.append(line)
        self._summary.count(line)
        if self._on_line is not None:
            self._on_line(line)
        if self._on_conversation is not None:
            self._on_conversation()


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    """The exceptions themselves, however deeply task groups nested them."""
    found: list[BaseException] = []
    for exc in group.exceptions:
        found.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return found
