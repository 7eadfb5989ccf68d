"""The sweep loop of `serve`: passes on a schedule, their outcome in metrics, what /readyz reports."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from session_reaper.commands.console.live import LiveView
from session_reaper.commands.runtime import (
    EXIT_AUTH,
    Runtime,
)
from session_reaper.config import Settings
from session_reaper.core.results import DecisionLine, Outcome
from session_reaper.core.rules import Action
from session_reaper.engine.leasing import new_owner
from session_reaper.engine.off_loop import journalled, read_of
from session_reaper.engine.own_messages import OwnMessages
from session_reaper.engine.read_schedule import policy_fingerprint
from session_reaper.engine.reconcile import Engine, Reconciled
from session_reaper.engine.sweep import NotBefore, Sweep, SweepResult
from session_reaper.errors import ReaperError, describe
from session_reaper.genesys.errors import AuthenticationFailed, GenesysError, PermissionMissing
from session_reaper.ledger import Ledger
from session_reaper.telemetry import logs
from session_reaper.telemetry.metrics import Metrics, OrgMetrics

CHECK_TIMEOUT = 5.0  # seconds a readiness check may take
PRUNE_EVERY = timedelta(hours=1)  # of platform time: a clock that runs fast (a soak's) prunes as often
TOKEN_RECHECK = 15.0  # seconds a token check's answer is reused: probes must not hammer the token endpoint

_QUIET = frozenset({Outcome.SKIPPED, Outcome.DEFERRED})  # logged at debug: the many conversations left alone

log = logs.get_logger(component="service")


class StartupFailed(ReaperError):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = code


class EventsStatus(Protocol):
    def check(self) -> str: ...

    def details(self) -> dict[str, object]: ...


@dataclass
class PassRecord:
    outcome: str  # ok, failed, aborted, error, stopped
    problem: str | None = None  # why the platform refused: shown by /readyz


class Service:
    """The sweep loop, its stop switch, and what the probes report."""

    def __init__(self, runtime: Runtime, metrics: Metrics | OrgMetrics, *, apply: bool) -> None:
        self.runtime = runtime
        self.settings: Settings = runtime.settings
        self.metrics = metrics
        self.apply = apply
        self.not_before = NotBefore()
        self._last_prune: datetime | None = None  # platform time
        self.stopping = asyncio.Event()
        self.passes = 0
        self.last: PassRecord | None = None
        self._current: Sweep | None = None
        self._cut_short = False  # the pass in flight was stopped by `stop_pass`: it did not see everything
        self._token_verdict: tuple[float, str] | None = None  # (monotonic time, "ok" or the problem)
        self.events: EventsStatus | None = None  # events mode: the socket and the queues polled instead
        self.stoppers: list[Callable[[], None]] = []  # events mode: what else stop() must tell
        # The console: the live view the passes feed, and an engine of its own for what people ask.
        self.live = LiveView(self.settings.policy(), self.settings.close_settings())
        self.console_owner = new_owner()
        self.console_engine = Engine(runtime.platform, runtime.ledger, self.settings, self.console_owner)

    # -- schedule --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Sweep until asked to stop. Raises StartupFailed when the first pass cannot authenticate."""
        if self.settings.sweep.mode == "events":
            from session_reaper.commands.serve.listening import listen  # the events mode's own module

            await listen(self)
            return
        loop = asyncio.get_running_loop()
        interval = self.settings.sweep.interval.total_seconds()
        while not self.stopping.is_set():
            started = loop.time()
            record = await self.sweep_once()
            if self.passes == 1 and record.outcome == "aborted":
                raise StartupFailed(EXIT_AUTH, record.problem or "the platform refused the first sweep")
            wait = started + interval - loop.time()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):  # not wait_for: gh-86296
                        await self.stopping.wait()

    def _reconciled_by(self, also: Callable[[Reconciled], None] | None) -> Callable[[Reconciled], None]:
        """Every conversation reconciled feeds the console's live view, and `also` (events mode's picture)."""
        if also is None:
            return self.live.update

        def both(done: Reconciled) -> None:
            self.live.update(done)
            also(done)

        return both

    async def sweep_once(
        self,
        settings: Settings | None = None,
        not_before: NotBefore | None = None,
        on_reconciled: Callable[[Reconciled], None] | None = None,
        own: OwnMessages | None = None,
    ) -> PassRecord:
        """One pass; events mode passes its reconciliations' settings, schedule, picture and own texts."""
        # runtime.platform keeps one write proof across passes: proven again after 403 or PROOF_MAX_AGE
        sweep = Sweep(
            self.runtime.platform,
            self.runtime.ledger,
            settings or self.settings,
            apply=self.apply,
            not_before=not_before if not_before is not None else self.not_before,
            on_line=self._on_line,
            own=own,
            on_reconciled=self._reconciled_by(on_reconciled),
        )
        self._current, self._cut_short = sweep, False
        began = time.monotonic()
        log.debug("sweep started", apply=self.apply)
        result: SweepResult | None = None
        try:
            result = await sweep.run()
            record = self._judge(result)
        except (AuthenticationFailed, PermissionMissing) as exc:
            record = PassRecord("aborted", str(exc))
        except Exception as exc:  # one bad pass must not end the service
            problem = describe(exc)  # what failed, not "unhandled errors in a TaskGroup"
            log.exception("sweep crashed", error=problem)
            record = PassRecord("error", problem)
        finally:
            self._current = None
            self.passes += 1
        duration = time.monotonic() - began
        await self._prune_inaction()
        in_scope = self._scope(result)
        if in_scope is not None and result is not None and result.unfinished is None:
            self.live.retain(in_scope)  # a whole pass: what it did not find is gone or out of scope
        self.metrics.observe_sweep(record.outcome, duration, None if in_scope is None else len(in_scope))
        self.last = record
        self._log_pass(record, result, duration)
        return record

    async def _prune_inaction(self) -> None:
        """Journal rows that changed nothing (skip, defer, dry run) are kept `[sweep] journal_retention`.

        A service journals every conversation it reads: about 1.4 M rows a day for 1,000 open
        conversations. What acted — decisions with steps, sweeps, message ids — is never pruned.
        """
        now = self.runtime.api.clock.now()
        if self._last_prune is not None and now - self._last_prune < PRUNE_EVERY:
            return
        self._last_prune = now
        retention = self.settings.sweep.journal_retention
        try:
            gone = await journalled(self.runtime.ledger.prune, now - retention)  # off the loop
        except Exception as exc:  # housekeeping must never stop the service
            log.warning("ledger prune failed", error=str(exc))
            return
        if gone:
            log.info("ledger pruned", decisions=gone, older_than=str(retention))

    async def read_again(self, conversation_id: str) -> None:
        """The next pass reads this conversation (a person changed it: an exemption lifted, a close)."""
        self.not_before.remember(conversation_id, None)  # at once: a pass starting meanwhile sees it
        try:
            now = self.runtime.api.clock.now()
            await journalled(  # off the loop, as the engine's calls
                self.runtime.ledger.save_read_schedule,
                policy_fingerprint(self.settings),
                now,
                {},
                {conversation_id},
            )
        except Exception as exc:  # an optimisation only: the backstop re-read comes anyway
            log.warning("read schedule not updated", conversation_id=conversation_id, error=str(exc))

    def stop(self) -> None:
        """Stop starting conversations; what is in flight finishes. Safe to call more than once."""
        if not self.stopping.is_set():
            log.info("stopping: finishing the steps in flight")
        self.stopping.set()
        if self._current is not None:
            self._current.stop()
        for stop in self.stoppers:
            stop()

    def stop_pass(self) -> None:
        """The pass in flight starts no new conversation; the service goes on (events mode takes over)."""
        if self._current is not None:
            self._cut_short = True
            self._current.stop()

    def _judge(self, result: SweepResult) -> PassRecord:
        if result.aborted is not None:
            return PassRecord("aborted", str(result.aborted))
        if result.unfinished is not None:
            return PassRecord("error", str(result.unfinished))
        if self.stopping.is_set() or self._cut_short:
            return PassRecord("stopped")
        return PassRecord("failed" if result.summary.failed else "ok")

    def _scope(self, result: SweepResult | None) -> set[str] | None:
        """Conversations the pass found: those it decided and those it knew could wait."""
        if result is None or result.aborted is not None or self.stopping.is_set() or self._cut_short:
            return None
        return {line.conversation_id for line in result.lines} | set(self.not_before.until)

    def _on_line(self, line: DecisionLine) -> None:
        self.metrics.observe_decision(line)
        if line.outcome is Outcome.FAILED:
            write = log.warning
        elif line.outcome in _QUIET and line.decision in (Action.SKIP, Action.DEFER):
            write = log.debug
        else:
            write = log.info
        details = {
            "rule": line.rule,
            "decision": line.decision,
            "outcome": line.outcome.value,
            "reason": line.reason,
            "steps": line.steps or None,
            "error": line.error,
            "queue_id": line.queue_id,
            "channel": line.channel,
        }
        write("decision", conversation_id=line.conversation_id, **{k: v for k, v in details.items() if v})

    def _log_pass(self, record: PassRecord, result: SweepResult | None, duration: float) -> None:
        summary = result.summary.to_json()["summary"] if result is not None else {}
        if record.outcome == "aborted":
            log.error("sweep aborted: the platform refused it", problem=record.problem, **summary)
        elif record.outcome == "failed":
            log.warning("sweep finished with failures", outcome=record.outcome, **summary)
        elif record.outcome in ("ok", "stopped"):
            quiet = not summary.get("eligible")  # a pass with nothing to do: the metrics are the heartbeat
            (log.debug if quiet else log.info)("sweep finished", outcome=record.outcome, **summary)
        else:
            log.error("sweep failed", outcome=record.outcome, problem=record.problem, duration=duration)

    # -- probes ----------------------------------------------------------------------------------

    async def readiness(self) -> dict[str, str]:
        """Each check's problem, or "ok"."""
        checks = {
            "token": await self._token_check(),
            "ledger": await _check(read_of(self.runtime.ledger, Ledger.schema_revision)),
            "permissions": "ok",
            "shutdown": "stopping" if self.stopping.is_set() else "ok",
        }
        if self.last is not None and self.last.outcome == "aborted":
            checks["permissions"] = _short(self.last.problem or "the last sweep was refused by the platform")
        if self.events is not None:
            checks["events"] = self.events.check()
        return checks

    def readiness_details(self) -> dict[str, object]:
        """What /readyz shows beside its checks: in events mode, the socket and the queues polled instead."""
        return {"events": self.events.details()} if self.events is not None else {}

    async def _token_check(self) -> str:
        """The cached token, or a new one when it is due; a refusal is remembered for a while."""
        now = time.monotonic()
        if self._token_verdict is not None and now - self._token_verdict[0] < TOKEN_RECHECK:
            return self._token_verdict[1]
        verdict = await _check(self.runtime.api.authenticate())
        self._token_verdict = (now, verdict)
        return verdict


async def _check(work: Awaitable[object]) -> str:
    """ "ok", or the problem in one short line (the probe may be reachable from outside the host)."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):  # not wait_for: gh-86296
            await work
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT:.0f}s"
    except GenesysError as exc:
        return _short(str(exc))
    except Exception as exc:
        return _short(f"{type(exc).__name__}: {exc}")
    return "ok"


def _short(problem: str, limit: int = 300) -> str:
    first = logs.scrub(problem.strip().splitlines()[0] if problem.strip() else problem)
    return first if len(first) <= limit else first[: limit - 1] + "…"
