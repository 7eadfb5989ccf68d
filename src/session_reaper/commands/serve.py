"""`serve`: sweep on a schedule, answer health probes, expose metrics, stop cleanly.

One asyncio loop runs two things side by side: a tiny Starlette app (served by uvicorn) for
`/healthz`, `/readyz` and `/metrics`, and the sweep loop.

Schedule. A pass starts `[sweep] interval` after the previous one *started*, or as soon as it ended
when it took longer: passes never overlap. One `NotBefore` is kept across passes, so a conversation
proven unable to become eligible before T is not read again before T.

Shutdown. SIGTERM or SIGINT: /readyz turns 503, the pass in flight stops starting conversations, the
ones being acted on finish their steps and are journalled, then the process exits 0. If that takes
longer than `grace` seconds (or a second signal comes) the pass is cancelled: the steps cut short
keep their journalled intent and the next start resolves them from the platform's state (exit 1).

Failures. Bad credentials or a missing permission at start — the token check or the first pass —
exit 3: a deployment that cannot work should fail its rollout. Later on, a pass stopped by a missing
permission (or refused credentials) is logged, counted (`sweeps_total{outcome="aborted"}`) and turns
/readyz 503, but the service keeps running and tries again on the next interval: a role fixed by an
administrator takes effect without a restart, and an orchestrator does not restart-loop against the
token endpoint. Any other error in a pass is logged and counted (`outcome="error"`); the next pass runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from session_reaper.commands.runtime import (
    EXIT_ACTION_FAILED,
    EXIT_AUTH,
    EXIT_OK,
    EXIT_USAGE,
    Runtime,
    open_runtime,
)
from session_reaper.config import ConfigError, Settings
from session_reaper.core.results import DecisionLine, Outcome
from session_reaper.engine.sweep import NotBefore, Sweep, SweepResult
from session_reaper.errors import ReaperError, describe
from session_reaper.genesys.errors import AuthenticationFailed, GenesysError, PermissionMissing
from session_reaper.genesys.http import ResponseEvent
from session_reaper.ledger import LedgerUnavailable, LedgerUrlError, LedgerVersionError
from session_reaper.telemetry import logs
from session_reaper.telemetry.metrics import Metrics

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9464
DEFAULT_GRACE = 25.0  # seconds; below the 30 s an orchestrator waits by default before SIGKILL
CHECK_TIMEOUT = 5.0  # seconds a readiness check may take
INACTION_RETENTION = timedelta(days=7)  # skip/defer/dry-run journal rows; what acted is kept for good
PRUNE_EVERY_SECONDS = 3600.0
TOKEN_RECHECK = 15.0  # seconds a token check's answer is reused: probes must not hammer the token endpoint

_QUIET = frozenset({Outcome.SKIPPED, Outcome.DEFERRED})  # logged at debug: the many conversations left alone

log = logs.get_logger(component="service")


class StartupFailed(ReaperError):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = self.exit_code = code


@dataclass
class PassRecord:
    outcome: str  # ok, failed, aborted, error, stopped
    problem: str | None = None  # why the platform refused: shown by /readyz


class Service:
    """The sweep loop, its stop switch, and what the probes report."""

    def __init__(self, runtime: Runtime, metrics: Metrics, *, apply: bool) -> None:
        self.runtime = runtime
        self.settings: Settings = runtime.settings
        self.metrics = metrics
        self.apply = apply
        self.not_before = NotBefore()
        self._last_prune = float("-inf")
        self.stopping = asyncio.Event()
        self.passes = 0
        self.last: PassRecord | None = None
        self._current: Sweep | None = None
        self._token_verdict: tuple[float, str] | None = None  # (monotonic time, "ok" or the problem)

    # -- schedule --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Sweep until asked to stop. Raises StartupFailed when the first pass cannot authenticate."""
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
                    await asyncio.wait_for(self.stopping.wait(), wait)

    async def sweep_once(self) -> PassRecord:
        # runtime.platform keeps one write proof across passes: proven again after 403 or PROOF_MAX_AGE
        sweep = Sweep(
            self.runtime.platform,
            self.runtime.ledger,
            self.settings,
            apply=self.apply,
            not_before=self.not_before,
            on_line=self._on_line,
        )
        self._current = sweep
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
        self._prune_inaction()
        self.metrics.observe_sweep(record.outcome, duration, self._in_scope(result))
        self.last = record
        self._log_pass(record, result, duration)
        return record

    def _prune_inaction(self) -> None:
        """Journal rows that changed nothing (skip, defer, dry run) are kept a week, then pruned.

        A service journals every conversation it reads: about 1.4 M rows a day for 1,000 open
        conversations. What acted — decisions with steps, sweeps, message ids — is never pruned.
        """
        if time.monotonic() - self._last_prune < PRUNE_EVERY_SECONDS:
            return
        self._last_prune = time.monotonic()
        try:
            gone = self.runtime.ledger.prune(self.runtime.api.clock.now() - INACTION_RETENTION)
        except Exception as exc:  # housekeeping must never stop the service
            log.warning("ledger prune failed", error=str(exc))
            return
        if gone:
            log.info("ledger pruned", decisions=gone, older_than=str(INACTION_RETENTION))

    def stop(self) -> None:
        """Stop starting conversations; what is in flight finishes. Safe to call more than once."""
        if not self.stopping.is_set():
            log.info("stopping: finishing the steps in flight")
        self.stopping.set()
        if self._current is not None:
            self._current.stop()

    def _judge(self, result: SweepResult) -> PassRecord:
        if result.aborted is not None:
            return PassRecord("aborted", str(result.aborted))
        if result.unfinished is not None:
            return PassRecord("error", str(result.unfinished))
        if self.stopping.is_set():
            return PassRecord("stopped")
        return PassRecord("failed" if result.summary.failed else "ok")

    def _in_scope(self, result: SweepResult | None) -> int | None:
        """Conversations the pass found: those it decided and those it knew could wait."""
        if result is None or result.aborted is not None or self.stopping.is_set():
            return None
        return len({line.conversation_id for line in result.lines} | set(self.not_before.until))

    def _on_line(self, line: DecisionLine) -> None:
        self.metrics.observe_decision(line)
        if line.outcome is Outcome.FAILED:
            write = log.warning
        elif line.outcome in _QUIET and line.decision in ("skip", "defer"):
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
            "ledger": await _check(asyncio.to_thread(self.runtime.ledger.schema_revision)),
            "permissions": "ok",
            "shutdown": "stopping" if self.stopping.is_set() else "ok",
        }
        if self.last is not None and self.last.outcome == "aborted":
            checks["permissions"] = _short(self.last.problem or "the last sweep was refused by the platform")
        return checks

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
        await asyncio.wait_for(work, CHECK_TIMEOUT)
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


# -- the HTTP app ------------------------------------------------------------------------------------


def create_app(service: Service, sweeps: asyncio.Task[None] | None = None) -> Starlette:
    async def healthz(_: Request) -> Response:
        alive = sweeps is None or not sweeps.done() or service.stopping.is_set()
        return JSONResponse(
            {"status": "ok" if alive else "sweep loop ended"}, status_code=200 if alive else 503
        )

    async def readyz(_: Request) -> Response:
        checks = await service.readiness()
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503
        )

    async def metrics(_: Request) -> Response:
        return Response(service.metrics.exposition(), media_type=service.metrics.content_type)

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ]
    )


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the service decides what a signal means."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


# -- the command -------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def open_service_runtime(
    settings: Settings, metrics: Metrics, environ: Mapping[str, str] | None = None
) -> AsyncIterator[Runtime]:
    """`runtime.open_runtime`, with every platform response counted in `metrics`.

    Connecting gets a token first: refused credentials raise AuthenticationFailed before anything runs.
    """

    def count(event: ResponseEvent) -> None:
        metrics.observe_request(event.method, event.status if event.status is not None else "error")

    async with open_runtime(settings, environ, on_response=count) as runtime:
        yield runtime


async def serve(settings: Settings, *, host: str, port: int, grace: float = DEFAULT_GRACE) -> int:
    """Run until SIGTERM/SIGINT; returns the exit code (DESIGN.md's: 0, 1, 2, 3)."""
    try:
        sock = bind(host, port)
    except OSError as exc:
        log.error("cannot listen", host=host, port=port, error=exc.strerror or str(exc))
        return EXIT_USAGE
    metrics = Metrics()
    try:
        async with open_service_runtime(settings, metrics) as runtime:
            return await _serve(runtime, metrics, sock, host=host, port=port, grace=grace)
    except StartupFailed as exc:
        log.error("cannot start", problem=str(exc))
        return exc.code
    except (AuthenticationFailed, PermissionMissing) as exc:
        log.error("cannot start: the platform refused the credentials", problem=str(exc))
        return EXIT_AUTH
    except (ConfigError, LedgerUrlError, LedgerVersionError) as exc:
        log.error("cannot start: configuration", problem=str(exc))
        return EXIT_USAGE
    except LedgerUnavailable as exc:  # one line, no traceback; a server that does not answer: retry
        log.error("cannot start: the ledger", problem=str(exc))
        return EXIT_ACTION_FAILED if exc.unreachable else EXIT_USAGE
    except Exception as exc:  # e.g. the ledger's database is unreachable: let the supervisor retry
        log.exception("cannot start", problem=str(exc))
        return EXIT_ACTION_FAILED
    finally:
        sock.close()


async def _serve(
    runtime: Runtime, metrics: Metrics, sock: socket.socket, *, host: str, port: int, grace: float
) -> int:
    settings = runtime.settings
    apply = settings.sweep.apply
    service = Service(runtime, metrics, apply=apply)
    loop = asyncio.get_running_loop()
    sweeps = loop.create_task(service.run(), name="sweeps")
    server = _Server(
        uvicorn.Config(
            create_app(service, sweeps),
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=2,
        )
    )
    http = loop.create_task(server.serve(sockets=[sock]), name="http")
    signals = _Signals(loop, service)
    log.info(
        "serving",
        url=f"http://{host}:{port}",
        apply=apply,
        interval=settings.sweep.interval.total_seconds(),
        ledger=runtime.ledger.describe(),
    )
    stop_requested = loop.create_task(service.stopping.wait(), name="stop-requested")
    code = EXIT_OK
    try:
        await asyncio.wait({sweeps, http, stop_requested}, return_when=asyncio.FIRST_COMPLETED)
        if sweeps.done():
            sweeps.result()  # StartupFailed, or a bug: raised
        else:
            if not service.stopping.is_set():
                log.error("the HTTP server stopped unexpectedly")
                code = EXIT_ACTION_FAILED
            service.stop()
            code = max(code, await _drain(sweeps, signals.forced, grace))
    finally:
        stop_requested.cancel()
        signals.restore()
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await http
    log.info("stopped", exit_code=code)
    return code


async def _drain(sweeps: asyncio.Task[None], forced: asyncio.Future[None], grace: float) -> int:
    """Let the pass in flight finish within `grace`; else cancel it (its open intents are recovered later)."""
    done, _ = await asyncio.wait({sweeps, forced}, timeout=grace, return_when=asyncio.FIRST_COMPLETED)
    if sweeps in done:
        if (exc := sweeps.exception()) is not None:
            raise exc
        return EXIT_OK
    sweeps.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sweeps
    log.warning("stopped before the steps in flight finished: the next start resolves them", grace=grace)
    return EXIT_ACTION_FAILED


class _Signals:
    """First SIGTERM/SIGINT: stop gracefully. Second: stop now."""

    def __init__(self, loop: asyncio.AbstractEventLoop, service: Service) -> None:
        self._loop = loop
        self._service = service
        self.forced: asyncio.Future[None] = loop.create_future()
        self._signals = (signal.SIGTERM, signal.SIGINT)
        for sig in self._signals:
            loop.add_signal_handler(sig, self._received, sig)

    def _received(self, sig: signal.Signals) -> None:
        if self._service.stopping.is_set():
            log.warning("second signal: stopping now", signal=sig.name)
            if not self.forced.done():
                self.forced.set_result(None)
            return
        log.info("signal received", signal=sig.name)
        self._service.stop()

    def restore(self) -> None:
        for sig in self._signals:
            self._loop.remove_signal_handler(sig)
