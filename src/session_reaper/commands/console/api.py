"""The console's JSON API under /api/console (the page uses only these; scripts may too).

Reads need any role; acting (close now, exempt, approve/reject) needs the operator's, and a cookie
session's CSRF token. Every refusal is answered before anything is read or written. What acts goes
through the engine (`engine/console.py`), journalled with the operator's name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from session_reaper.commands.console.auth import Auth, Identity, refusal
from session_reaper.commands.console.live import Entry, iso
from session_reaper.commands.console.targets import ConsoleTarget, Targets
from session_reaper.commands.console.timeline import timeline
from session_reaper.commands.explaining import Explanation, explain
from session_reaper.commands.report.as_json import to_json
from session_reaper.commands.report.collect import collect_recent, parse_since
from session_reaper.core.approvals import PendingDecision
from session_reaper.core.results import DecisionLine, Outcome
from session_reaper.engine import console as acts
from session_reaper.engine.off_loop import journalled, read_of
from session_reaper.engine.ports import PlatformError
from session_reaper.engine.reconcile import Reconciled, Trigger
from session_reaper.redaction import redact
from session_reaper.telemetry import logs

log = logs.get_logger(component="console")
Handler = Callable[[Request, Identity], Awaitable[Response]]


@dataclass
class ConsoleApi:
    """`service`: the one organization's loop, or `Targets.held(...)`: those this replica holds."""

    service: ConsoleTarget | Targets
    auth: Auth
    _queue_names: dict[str, str] = field(default_factory=dict)
    _queues_asked: set[str] = field(default_factory=set)

    @property
    def targets(self) -> Targets:
        service = self.service
        return service if isinstance(service, Targets) else Targets.single(service)

    def now(self, target: ConsoleTarget | None = None) -> datetime:
        """The platform's time (that org's; with no org held, the machine's)."""
        if target is None:
            target = next(iter(self.targets.current().values()), None)
        now: datetime = target.runtime.platform.now() if target is not None else datetime.now(UTC)
        return now

    async def queue_names(self, queue_ids: set[str], target: ConsoleTarget | None = None) -> dict[str, str]:
        """Queue names read once each, from the queues' org (a refusal or an error shows the id instead)."""
        if target is None:
            target = next(iter(self.targets.current().values()), None)
        for queue_id in sorted(queue_ids - self._queues_asked):
            if target is None:
                break
            self._queues_asked.add(queue_id)
            try:
                name, _ = await target.runtime.platform.queue_name(queue_id)
            except PlatformError:
                self._queues_asked.discard(queue_id)  # try again another time
                continue
            if name:
                self._queue_names[queue_id] = name
        return self._queue_names

    # -- reading ----------------------------------------------------------------------------------

    async def session(self, request: Request, who: Identity) -> Response:
        return JSONResponse({"name": who.name, "role": who.role.value, "csrfToken": who.csrf})

    async def conversations(self, request: Request, who: Identity) -> Response:
        queue, rule = request.query_params.get("queue"), request.query_params.get("rule")
        org = request.query_params.get("org") or None
        targets = self.targets
        entries = [
            (name, target, e)
            for name, target, e in targets.entries(org if targets.named else None)
            if (not queue or _in_queue(e, queue)) and (not rule or e.line.rule == rule)
        ]
        now = self.now()
        rows = []
        for name, target, e in entries:
            names = await self.queue_names({e.queue_id} if e.queue_id else set(), target)
            row = e.to_json(self.now(target) if targets.named else now, names)
            rows.append(row | {"org": name} if targets.named else row)
        return JSONResponse({"now": iso(now), "conversations": rows})

    async def conversation(self, request: Request, who: Identity) -> Response:
        cid = request.path_params["conversation_id"]
        targets = self.targets
        explained = await self._explain(cid)
        if explained is None:
            return refusal(404, "not-found", f"conversation {cid} not found on the platform")
        org, target, found = explained
        entry = self._explained(found, target)
        names = await self.queue_names({entry.queue_id} if entry.queue_id else set(), target)
        body = entry.to_json(found.now, names)
        if targets.named:
            body["org"] = org
        body["timeline"] = timeline(found)
        body["calls"] = found.calls
        return JSONResponse(body)

    async def _explain(self, cid: str) -> tuple[str | None, ConsoleTarget, Explanation] | None:
        """Explained by the org whose live view has it; else by each org held, until one finds it."""
        known = self.targets.of(cid)
        for org, target in [known] if known is not None else list(self.targets.current().items()):
            runtime = target.runtime
            found = await explain(runtime.platform, runtime.ledger, target.settings, cid)
            if found is not None:
                return org, target, found
        return None

    def _explained(self, found: Explanation, target: ConsoleTarget) -> Entry:
        """The explanation as a live entry: the fresh verdict, with what the live view knows of it."""
        verdict = found.verdict
        known = target.live.get(found.conversation.id)
        cid = found.conversation.id
        line = DecisionLine(cid, verdict.rule, verdict.action.value, Outcome.DRY_RUN, verdict.reason)
        if not verdict.acts:
            line.outcome = Outcome.DEFERRED if verdict.action.value == "defer" else Outcome.SKIPPED
        if known is not None and known.pending_id is not None:
            line.decision, line.outcome = known.line.decision, known.line.outcome
        done = Reconciled(line, verdict, found.now, Trigger.CONSOLE, found.conversation)
        entry = target.live.entry(done)
        entry.pending_id = known.pending_id if known is not None else None
        return entry

    async def pending(self, request: Request, who: Identity) -> Response:
        targets = self.targets
        rows: list[tuple[datetime, dict[str, Any]]] = []
        for name, target in targets.current().items():  # each org's own ledger view: its rows only
            now = self.now(target)
            for p in await journalled(target.runtime.ledger.pending_decisions, now):
                row = _pending_json(p, now)
                rows.append((p.created_at, row | {"org": name} if targets.named else row))
        if targets.named:
            rows.sort(key=lambda r: r[0])
        return JSONResponse({"pending": [row for _, row in rows]})

    async def history(self, request: Request, who: Identity) -> Response:
        text = request.query_params.get("since", "7d")
        try:
            since = parse_since(text)
        except ValueError as exc:
            return refusal(400, "bad-request", f"since: {exc}")
        try:  # the service's own open ledger: an in-memory one (demo --console) exists only there
            data = await read_of(self.targets.ledger(), collect_recent, since)
        except SQLAlchemyError as exc:  # never the driver's text: it may hold the URL and its password
            return refusal(503, "ledger", f"cannot read the ledger ({type(exc).__name__})")
        return JSONResponse(to_json(data))

    # -- acting -----------------------------------------------------------------------------------

    async def _settled(self, done: Reconciled, target: ConsoleTarget) -> None:
        """What a console act did, in the live view at once; the next pass reads it again anyway."""
        target.live.update(done)
        await target.read_again(done.line.conversation_id)

    def _target(self, conversation_id: str) -> ConsoleTarget:
        """The org the conversation is in: the one whose live view holds it (refused when none does)."""
        found = self.targets.of(conversation_id)
        if found is None:
            held = ", ".join(sorted(str(name) for name in self.targets.current())) or "none"
            raise acts.ConsoleRefused(
                f"conversation {conversation_id} is in the live view of no organization this replica"
                f" holds (held: {held})",
                status=404,
            )
        return found[1]

    async def close(self, request: Request, who: Identity) -> Response:
        cid = request.path_params["conversation_id"]
        service = self._target(cid)
        done = await acts.close_now(service.console_engine, cid, who.name, owner=service.console_owner)
        await self._settled(done, service)
        line = done.line
        log.info("console close", conversation_id=cid, operator=who.name, outcome=line.outcome.value)
        body = line.to_json() | {"operator": who.name}
        missing = done.conversation is None and done.keep_schedule  # asked for by id, not there
        return JSONResponse(body, status_code=404 if missing else 200)

    async def exempt(self, request: Request, who: Identity) -> Response:
        cid = request.path_params["conversation_id"]
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        value = body.get("exempt")
        if not isinstance(value, bool):
            return refusal(400, "bad-request", 'the body must be {"exempt": true} or {"exempt": false}')
        service = self._target(cid)
        await acts.set_exempt(service.console_engine, cid, value, who.name, owner=service.console_owner)
        entry = service.live.get(cid)
        if entry is not None:
            entry.exempt = value
        await service.read_again(cid)
        log.info("console exempt", conversation_id=cid, operator=who.name, exempt=value)
        return JSONResponse({"conversationId": cid, "exempt": value})

    async def decide(self, request: Request, who: Identity) -> Response:
        decision_id = request.path_params["decision_id"]
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        approve = body.get("approve")
        if not isinstance(approve, bool):
            return refusal(400, "bad-request", 'the body must be {"approve": true} or {"approve": false}')
        service = await self._decider(decision_id)
        answer = await acts.decide_pending(
            service.console_engine, decision_id, approve, who.name, owner=service.console_owner
        )
        result: dict[str, Any] = {"decisionId": decision_id, "status": answer.status}
        if answer.done is not None:
            await self._settled(answer.done, service)
            result |= {"outcome": answer.done.line.outcome.value, "reason": answer.done.line.reason}
            result["steps"] = list(answer.done.line.steps)
        elif answer.pending.outcome is not None:
            result["outcome"] = answer.pending.outcome
        result["operator"] = answer.pending.operator
        log.info("console decision", decision_id=decision_id, operator=who.name, status=answer.status)
        return JSONResponse(result)

    async def _decider(self, decision_id: str) -> ConsoleTarget:
        """The org a pending decision was made for (without orgs: the one there is)."""
        targets = self.targets
        current = targets.current()
        if not targets.named:
            return next(iter(current.values()))
        pending = await journalled(targets.ledger().pending_decision, decision_id)
        if pending is None:
            raise acts.ConsoleRefused(f"no pending decision {decision_id}", status=404)
        target = current.get(pending.org)
        if target is None:
            raise acts.ConsoleRefused(
                f"pending decision {decision_id} is organization {pending.org}'s, which this replica"
                " does not hold now: ask the replica that sweeps it",
                status=409,
            )
        return target

    # -- wiring -----------------------------------------------------------------------------------

    def guarded(self, handler: Handler, *, act: bool) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            who = await self.auth.authorize(request, act=act)
            if isinstance(who, Response):
                return who
            try:
                return await handler(request, who)
            except acts.ConsoleRefused as exc:
                return refusal(exc.status, "refused", str(exc))
            except PlatformError as exc:
                log.warning("console: the platform refused", error=str(exc), status=exc.status)
                return refusal(502, "platform", redact(str(exc)))

        return endpoint

    def routes(self) -> list[BaseRoute]:
        def read(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
            return self.guarded(handler, act=False)

        def act(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
            return self.guarded(handler, act=True)

        base = "/api/console"
        return [
            Route(f"{base}/session", read(self.session), methods=["GET"]),
            Route(f"{base}/conversations", read(self.conversations), methods=["GET"]),
            Route(f"{base}/conversations/{{conversation_id}}", read(self.conversation), methods=["GET"]),
            Route(f"{base}/conversations/{{conversation_id}}/close", act(self.close), methods=["POST"]),
            Route(f"{base}/conversations/{{conversation_id}}/exempt", act(self.exempt), methods=["POST"]),
            Route(f"{base}/pending", read(self.pending), methods=["GET"]),
            Route(f"{base}/pending/{{decision_id}}", act(self.decide), methods=["POST"]),
            Route(f"{base}/history", read(self.history), methods=["GET"]),
            Route("/console/login", self.auth.login, methods=["POST"]),
            Route("/console/logout", self.auth.logout, methods=["POST"]),
        ]


def _in_queue(entry: Entry, queue: str) -> bool:
    if entry.queue_id == queue:
        return True
    return entry.conversation is not None and queue in entry.conversation.queue_ids


async def _json_body(request: Request) -> dict[str, Any] | Response:
    try:
        body = await request.json()
    except ValueError:
        return refusal(400, "bad-request", "the body is not JSON")
    if not isinstance(body, dict):
        return refusal(400, "bad-request", "the body must be a JSON object")
    return body


def _pending_json(pending: PendingDecision, now: datetime) -> dict[str, Any]:
    return {
        "decisionId": pending.decision_id,
        "conversationId": pending.conversation_id,
        "rule": pending.rule,
        "decision": pending.decision,
        "reason": pending.reason,
        "queueId": pending.queue_id,
        "createdAt": iso(pending.created_at),
        "expiresAt": iso(pending.expires_at),
        "status": pending.status_at(now),
    }
