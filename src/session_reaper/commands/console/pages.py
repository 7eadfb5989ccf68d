"""The console's HTML pages: server-rendered with Jinja2, kept live by `static/console.js`.

    /console/login                  the sign-in form (name, token); its POST and /console/logout are auth.py's
    /console                        every conversation in scope, pending decisions, the acts
    /console/conversations/{id}     the explain view: participants, timeline, rule, the exact calls
    /console/history                the report's figures and charts for a chosen period
    /console/static/...             the style sheet and the script, served from this package

The pages hold no logic of their own: the live list, the acts and the approvals are the JSON API's
(`api.py`), which the script polls and calls with the session's CSRF token (read from
`<meta name="csrf-token">`); the explain view is the API's own JSON, rendered; the history is the
report's own figures and SVG charts (`report.html.render_body`), not drawn a second time. A page
shows an act's buttons only to an operator; the API refuses a viewer whatever the page shows.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from session_reaper.commands.console.api import ConsoleApi
from session_reaper.commands.console.auth import Auth, Identity
from session_reaper.commands.report import html as report_html
from session_reaper.commands.report.collect import collect_recent, parse_since
from session_reaper.commands.report.wording import period_text
from session_reaper.core.catalog import RULES
from session_reaper.engine.off_loop import read_of

ROOT = "/console"
API = "/api/console"
POLL_MS = 3000  # how often the live page asks the API: a countdown ticks every second in between
EXPLAIN_POLL_MS = 10_000  # the explain view reads the platform each time: less often
STATIC = Path(__file__).with_name("static")
DEFAULT_PERIOD = "7d"
PERIODS: tuple[tuple[str, str], ...] = (
    ("1h", "the last hour"),
    ("8h", "the last 8 hours"),
    ("24h", "the last 24 hours"),
    ("7d", "the last 7 days"),
    ("30d", "the last 30 days"),
)
LOGIN_FAILURES = {
    "invalid": "That token is not a console token. Check it and try again.",
    "not-configured": "The console is not configured on this server.",
}
# The pages load only this server's own script and style sheet; the report's charts are inline SVG.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # a page carries its session's CSRF token
}


def countdown(seconds: float | None) -> str:
    """What the page says before the script's first tick (console.js says the same)."""
    if seconds is None:
        return "—"
    left = max(0, round(seconds))
    if left == 0:
        return "eligible now"
    hours, rest = divmod(left, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def when(iso: str | None) -> str:
    """ "2026-12-02T10:08:17Z" -> "2026-12-02 10:08:17 UTC" (console.js says the same)."""
    if not iso:
        return "—"
    text = iso.replace("T", " ")
    return text[:-1] + " UTC" if text.endswith("Z") else text


@cache
def _version(name: str) -> str:
    """A short hash of a static file: a changed script is fetched again, never taken from a cache."""
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("session_reaper.commands.console", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,  # a template naming a missing value fails its test, not silently
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals.update(
        root=ROOT,
        api=API,
        poll_ms=POLL_MS,
        explain_poll_ms=EXPLAIN_POLL_MS,
        countdown=countdown,
        when=when,
        static=lambda name: f"{ROOT}/static/{name}?v={_version(name)}",
    )
    return environment


class Pages:
    """The HTML routes; each page is rendered for the identity behind the request, from the API's data."""

    def __init__(self, api: ConsoleApi) -> None:
        self.api = api
        self.auth: Auth = api.auth
        self.templates = _environment()

    def routes(self) -> list[BaseRoute]:
        return [
            Route(ROOT, self.live, methods=["GET"]),
            Route(f"{ROOT}/login", self.login_page, methods=["GET"]),
            Route(ROOT + "/conversations/{conversation_id}", self.conversation, methods=["GET"]),
            Route(f"{ROOT}/history", self.history, methods=["GET"]),
            Mount(f"{ROOT}/static", StaticFiles(directory=STATIC), name="console-static"),
        ]

    def render(
        self, template: str, identity: Identity | None, status_code: int = 200, **values: Any
    ) -> HTMLResponse:
        page = self.templates.get_template(template).render(
            user=identity, csrf_token=(identity.csrf or "") if identity else "", **values
        )
        return HTMLResponse(page, status_code=status_code, headers=SECURITY_HEADERS)

    def _who(self, request: Request) -> Identity | Response:
        """The signed-in identity, or the way to the sign-in form."""
        identity = self.auth.identify(request)
        if isinstance(identity, Response):
            return RedirectResponse(f"{ROOT}/login", status_code=303)
        return identity

    # -- the pages ------------------------------------------------------------------------------

    async def _queues(self) -> list[tuple[str, str]]:
        """(id, name) of the queues of the conversations in scope now, by name: the filter's choices."""
        ids: set[str] = set()
        names: dict[str, str] = {}
        for _, target, e in self.api.targets.entries():
            if q := e.queue_id:
                ids.add(q)
                names = await self.api.queue_names({q}, target)
        return sorted(((q, names.get(q, q)) for q in ids), key=lambda q: q[1].lower())

    async def login_page(self, request: Request) -> Response:
        identity = self.auth.identify(request)
        if isinstance(identity, Identity):  # already signed in
            return RedirectResponse(ROOT, status_code=303)
        failed = request.query_params.get("failed")
        return self.render(
            "login.html",
            None,
            status_code=200 if self.auth.configured else 503,
            configured=self.auth.configured,
            error=LOGIN_FAILURES.get(failed or ""),
            name=None,
        )

    async def live(self, request: Request) -> Response:
        identity = self._who(request)
        if isinstance(identity, Response):
            return identity
        targets = self.api.targets
        return self.render(
            "live.html",
            identity,
            active="live",
            can_act=identity.may_act,
            queues=await self._queues(),
            rules=list(RULES),
            queue=request.query_params.get("queue", ""),
            rule=request.query_params.get("rule", ""),
            orgs=sorted(str(name) for name in targets.current()) if targets.named else [],
            org=request.query_params.get("org", ""),
        )

    async def conversation(self, request: Request) -> Response:
        identity = self._who(request)
        if isinstance(identity, Response):
            return identity
        conversation_id = request.path_params["conversation_id"]
        # The API's own answer, rendered: the page and a script see the same explain view.
        answer = await self.api.guarded(self.api.conversation, act=False)(request)
        found = json.loads(bytes(answer.body)) if answer.status_code == 200 else None
        if found is None:
            return self.render(
                "missing.html", identity, status_code=404, active="live", conversation_id=conversation_id
            )
        return self.render("conversation.html", identity, active="live", can_act=identity.may_act, c=found)

    async def history(self, request: Request) -> Response:
        identity = self._who(request)
        if isinstance(identity, Response):
            return identity
        since = request.query_params.get("since", DEFAULT_PERIOD)
        error = None
        try:
            period = parse_since(since)
        except ValueError as exc:
            error = f"Period {since!r}: {exc}. Showing {DEFAULT_PERIOD}."
            since, period = DEFAULT_PERIOD, parse_since(DEFAULT_PERIOD)
        data = await read_of(self.api.targets.ledger(), collect_recent, period)
        periods = list(PERIODS)
        if since not in dict(periods):
            periods.append((since, f"the last {since}"))
        return self.render(
            "history.html",
            identity,
            active="history",
            since=since,
            periods=periods,
            error=error,
            period=period_text(data),
            report_css=Markup(report_html.CSS),  # the report's own constant style sheet
            report_body=Markup(report_html.render_body(data)),  # every string is escaped there
        )
