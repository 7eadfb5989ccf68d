"""Which conversations a pass looks at, and what a reviewed plan still allows.

A pass normally looks at everything discovery finds in scope. `sweep --only ID` names conversations
(read directly by id: no discovery). `sweep --plan FILE` takes the JSON Lines of an earlier dry run
and acts only on its actionable lines, each re-read and re-decided just before acting: a line whose
fresh verdict is not the one reviewed (a message came, the rule changed, it ended, another action is
now due) is cancelled with the reason, never forced and never upgraded.

Dry runs list every conversation in scope: those the saved read schedule holds back are shown as
such (`list_unread`) instead of silently missing; `--fresh` reads them all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from session_reaper.core.results import DecisionLine, Outcome
from session_reaper.core.rules import Action, Verdict
from session_reaper.core.schedule import format_duration, format_elapsed
from session_reaper.errors import EXIT_USAGE, ReaperError

# The decisions of a dry run that a plan can carry out; skip/defer/pending lines are only information.
ACTIONABLE = frozenset({Action.CLOSE.value, Action.WARN.value, Action.TEARDOWN.value, Action.WRAPUP.value})
# Date headers have whole seconds: a plan made a moment ago may look up to this far in the future.
_FUTURE_TOLERANCE = timedelta(minutes=1)


class PlanError(ReaperError, ValueError):
    """A plan file that cannot be used: the message names the file (and the line) and why."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True, slots=True)
class PlannedAction:
    """One reviewed line of a plan: what was to be done to a conversation, under which rule, when."""

    conversation_id: str
    rule: str | None
    decision: str
    decided_at: datetime
    line: int
    org: str | None = None  # the organization of the line (`"org"`), when organizations are configured


@dataclass(frozen=True, slots=True)
class ReviewedPlan:
    path: Path
    actions: Mapping[str, PlannedAction]  # by conversation id, in the plan's order
    made_at: datetime | None  # the oldest decision it would carry out; None when it carries none
    # The organizations of its lines, actionable or not (None: lines without "org").
    line_orgs: frozenset[str | None] = frozenset({None})

    def orgs(self) -> frozenset[str | None]:
        return self.line_orgs

    def for_org(self, org: str | None) -> ReviewedPlan:
        """The plan's lines of one organization (all of them when `org` is None: no organizations)."""
        if org is None:
            return self
        actions = {cid: a for cid, a in self.actions.items() if a.org == org}
        made_at = min((a.decided_at for a in actions.values()), default=None)
        return ReviewedPlan(self.path, actions, made_at, frozenset({org}))

    def check_age(self, now: datetime, max_age: timedelta) -> None:
        """Refuse a plan older than `max_age` on the platform's clock (or dated after it)."""
        if self.made_at is None:
            return
        age = now - self.made_at
        made = _iso(self.made_at)
        if age > max_age:
            raise PlanError(
                f"{self.path}: the plan was made at {made}, {format_elapsed(age)} ago on the platform's"
                f" clock, older than --plan-max-age {format_duration(max_age)}:"
                " make a new one with `sweep --json`"
            )
        if age < -_FUTURE_TOLERANCE:
            raise PlanError(
                f"{self.path}: the plan is dated {made}, after the platform's clock"
                f" ({_iso(now)}): make a new one with `sweep --json`"
            )


def load_plan(path: Path) -> ReviewedPlan:
    """Parse the JSON Lines of `sweep --json`; every problem names the file and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"{path}: cannot read the plan: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise PlanError(f"{path}: not a plan: the file is not UTF-8 text") from None
    actions: dict[str, PlannedAction] = {}
    decided = 0
    orgs: set[str | None] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{path}:{number}"
        try:
            payload = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise PlanError(
                f"{where}: not JSON ({exc.msg}): a plan is the output of `sweep --json`"
            ) from None
        if not isinstance(payload, dict):
            raise PlanError(f"{where}: not a JSON object: a plan is the output of `sweep --json`")
        org = payload.get("org")
        if org is not None and not isinstance(org, str):
            raise PlanError(f"{where}: org must be a string")
        if "summary" in payload:
            continue
        decided += 1
        orgs.add(org)
        planned = _planned(payload, where, number)
        if planned is not None and planned.conversation_id not in actions:
            actions[planned.conversation_id] = planned
    if decided == 0:
        raise PlanError(f"{path}: no decision lines: a plan is the output of `sweep --json`")
    made_at = min((a.decided_at for a in actions.values()), default=None)
    return ReviewedPlan(path, actions, made_at, frozenset(orgs))


def _planned(payload: Mapping[str, object], where: str, number: int) -> PlannedAction | None:
    conversation_id = payload.get("conversationId")
    if not isinstance(conversation_id, str) or not conversation_id.strip():
        raise PlanError(f"{where}: a decision line without conversationId")
    decision = payload.get("decision")
    if not isinstance(decision, str):
        raise PlanError(f"{where}: conversation {conversation_id} has no decision")
    if decision not in ACTIONABLE:
        return None
    rule = payload.get("rule")
    if rule is not None and not isinstance(rule, str):
        raise PlanError(f"{where}: conversation {conversation_id}: rule must be a string")
    stamp = payload.get("decidedAt")
    if not isinstance(stamp, str):
        raise PlanError(
            f"{where}: conversation {conversation_id}: no decidedAt, so the plan's age is unknown:"
            " make the plan with this version's `sweep --json`"
        )
    try:
        decided_at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        raise PlanError(
            f"{where}: conversation {conversation_id}: decidedAt {stamp!r} is not a time"
        ) from None
    if decided_at.tzinfo is None:
        raise PlanError(f"{where}: conversation {conversation_id}: decidedAt {stamp!r} has no time zone")
    org = payload.get("org")
    return PlannedAction(
        conversation_id.strip(), rule, decision, decided_at, number, org if isinstance(org, str) else None
    )


@dataclass(frozen=True, slots=True)
class Selection:
    """What one pass looks at. The default, everything in scope, is what `serve` and cron sweeps use."""

    only: tuple[str, ...] | None = None  # --only: these ids alone, read directly
    plan: ReviewedPlan | None = None  # --plan: its actionable lines alone, each re-decided
    fresh: bool = False  # --fresh: read every conversation, whatever the saved read schedule says
    list_unread: bool = False  # dry runs: show what the read schedule holds back instead of hiding it
    _only: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_only", frozenset(self.only or ()))

    @property
    def everything(self) -> bool:
        """Discovery's whole answer, the only case in which what was not seen may be forgotten."""
        return self.only is None and self.plan is None

    def ids(self) -> list[str] | None:
        """The ids to read directly (no discovery), in the order given; None = discover."""
        if self.plan is not None:
            return [cid for cid in self.plan.actions if self.only is None or cid in self._only]
        if self.only is not None:
            return list(dict.fromkeys(self.only))
        return None

    def named(self, conversation_id: str) -> bool:
        """Asked for by id: a conversation that does not exist is reported, not passed over."""
        return not self.everything and conversation_id in (self.ids() or ())

    def planned(self, conversation_id: str) -> PlannedAction | None:
        return None if self.plan is None else self.plan.actions.get(conversation_id)

    def cancels(self, conversation_id: str, verdict: Verdict) -> str | None:
        """Why the fresh verdict does not carry out the reviewed line, or None when it does."""
        planned = self.planned(conversation_id)
        if planned is None:
            return None
        reviewed = f"reviewed {planned.decision} ({planned.rule or 'no rule'})"
        fresh = f"{verdict.action.value} ({verdict.rule or 'no rule'}): {verdict.reason}"
        if verdict.action.value != planned.decision:
            return f"{reviewed} no longer holds; now {fresh}"
        if verdict.rule != planned.rule:
            return f"{reviewed}: the rule changed; now {fresh}"
        return None

    def unread(self, conversation_id: str, until: datetime, now: datetime) -> tuple[DecisionLine, Verdict]:
        """A dry run's line for a conversation the read schedule holds back: say so, and until when."""
        when = until.strftime("%H:%M:%S" if until.date() == now.date() else "%Y-%m-%d %H:%M:%S")
        reason = f"not re-read before {when} UTC (read schedule; --fresh reads it now)"
        verdict = Verdict(None, Action.SKIP, reason, until, decided_at=now)
        return DecisionLine(conversation_id, None, Action.SKIP.value, Outcome.SKIPPED, reason), verdict

    def missing(self, conversation_id: str, now: datetime) -> tuple[DecisionLine, Verdict]:
        """A conversation asked for by id that the platform does not have (404)."""
        reason = "not found on the platform (no such conversation id, or it is gone)"
        planned = self.planned(conversation_id)
        verdict = Verdict(planned.rule if planned else None, Action.SKIP, reason, None, decided_at=now)
        if planned is None:
            return DecisionLine(conversation_id, None, Action.SKIP.value, Outcome.SKIPPED, reason), verdict
        # A reviewed line whose conversation is gone no longer holds.
        line = DecisionLine(conversation_id, planned.rule, planned.decision, Outcome.CANCELLED, reason)
        return line, verdict


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
