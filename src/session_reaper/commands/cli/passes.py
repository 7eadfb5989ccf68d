"""The passes over the platform: `sweep` (act or dry run), `scan` (a table of verdicts), `explain` (one)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from session_reaper.commands.cli.app import (
    ConfigOption,
    FreshOption,
    command,
    err,
    fail,
    failed,
    load,
    out,
)
from session_reaper.commands.cli.organizations import OrgOption, each_org, pass_code, targets, with_org
from session_reaper.errors import EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from session_reaper.commands.runtime import Runtime
    from session_reaper.config import Settings
    from session_reaper.core.results import DecisionLine
    from session_reaper.engine.selection import Selection
    from session_reaper.engine.sweep import SweepResult


@command()
def sweep(
    apply: bool = typer.Option(False, "--apply", help="Act. Without it (and without apply=true): a dry run."),
    json_lines: bool = typer.Option(
        False, "--json", help="Print JSON Lines: one per conversation, then a summary (a plan for --plan)."
    ),
    fresh: bool = FreshOption,
    only: list[str] | None = typer.Option(
        None,
        "--only",
        metavar="ID",
        help="Only this conversation, read directly by id (repeat for more); nothing else is touched.",
    ),
    plan_file: Path | None = typer.Option(
        None,
        "--plan",
        metavar="FILE",
        dir_okay=False,
        help="Carry out the close/warn/teardown/wrapup lines of an earlier `sweep --json` dry run, each"
        " re-decided first: a line that no longer holds is cancelled.",
    ),
    plan_max_age: str = typer.Option(
        "1h",
        "--plan-max-age",
        metavar="DURATION",
        help="Refuse a --plan older than this, on the platform's clock.",
    ),
    org: str | None = OrgOption,
    config: Path | None = ConfigOption,
) -> None:
    """One pass: discover, decide, act (or show what would be done); one per organization, in turn."""
    from dataclasses import replace

    from session_reaper.commands import terminal as render
    from session_reaper.commands.exits import worst
    from session_reaper.core.results import json_line
    from session_reaper.engine.sweep import Sweep

    settings = load(config, apply=apply)
    max_age = _duration("--plan-max-age", plan_max_age)
    selection = _selection(only, plan_file, fresh=fresh, dry_run=not settings.sweep.apply)
    found = targets(settings, org)
    _check_plan_orgs(selection, settings)
    if only and len(found) > 1:  # an id is one organization's: the others would only say "not found"
        names = ", ".join(str(o.name) for o in found)
        raise fail(
            EXIT_USAGE, f"--only: name the conversations' organization with --org (configured: {names})"
        )

    applied: dict[str | None, bool] = {}

    async def work(rt: Runtime) -> SweepResult:
        def show(line: DecisionLine) -> None:
            if json_lines:
                print(json_line(with_org(line.to_json(), rt.org)), flush=True)

        own = applied[rt.org] = rt.settings.sweep.apply
        chosen = replace(selection, plan=selection.plan.for_org(rt.org) if selection.plan else None)
        chosen = replace(chosen, list_unread=not own)
        if chosen.plan is not None:  # before anything is sent, recovery included
            chosen.plan.check_age(rt.api.clock.now(), max_age)
        reaper = Sweep(rt.platform, rt.ledger, rt.settings, apply=own, on_line=show, selection=chosen)
        return await reaper.run()

    codes = []
    for done in each_org(settings, found, work):
        if done.result is None:
            codes.append(done.code)
            continue
        result = done.result
        if json_lines:
            print(json_line(with_org(result.summary.to_json(), done.org)), flush=True)
        else:
            _heading(done.org)
            render.sweep_table(out, result.lines, apply=applied[done.org])
            render.summary(out, result.summary)
        codes.append(pass_code(done.org, result))
    raise typer.Exit(worst(codes))


def _heading(org: str | None) -> None:
    if org is not None:
        out.print(f"[bold]Organization {org}[/]", markup=True)


def _check_plan_orgs(selection: Selection, settings: Settings) -> None:
    """A plan's lines name their organizations; each must be configured (else exit 2)."""
    from session_reaper.config import ConfigError

    if selection.plan is None:
        return
    for name in selection.plan.orgs():
        if name is not None and not settings.orgs:
            raise fail(
                EXIT_USAGE, f"--plan: its lines are of org {name}, and no organizations are configured"
            )
        if name is not None:
            try:
                settings.org(name)
            except ConfigError as exc:
                raise failed(exc) from None
    if settings.orgs and None in selection.plan.orgs():
        raise fail(EXIT_USAGE, "--plan: lines without an org, and organizations are configured")


def _duration(flag: str, text: str) -> timedelta:
    from session_reaper.core.schedule import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise fail(EXIT_USAGE, f"{flag}: {exc}") from None


def _selection(only: list[str] | None, plan_file: Path | None, *, fresh: bool, dry_run: bool) -> Selection:
    from session_reaper.engine.selection import PlanError, Selection, load_plan

    ids = [i.strip() for i in only] if only else None
    if ids is not None and not all(ids):
        raise fail(EXIT_USAGE, "--only: an empty conversation id")
    try:
        plan = load_plan(plan_file) if plan_file is not None else None
    except PlanError as exc:
        raise failed(exc) from None
    return Selection(only=tuple(ids) if ids else None, plan=plan, fresh=fresh, list_unread=dry_run)


@command()
def scan(fresh: bool = FreshOption, org: str | None = OrgOption, config: Path | None = ConfigOption) -> None:
    """Dry run: a table of every conversation in scope with its verdict and why, per organization."""
    from session_reaper.commands import terminal as render
    from session_reaper.commands.exits import worst
    from session_reaper.engine.selection import Selection
    from session_reaper.engine.sweep import Sweep

    settings = load(config).with_apply(False)
    selection = Selection(fresh=fresh, list_unread=True)
    found = targets(settings, org)

    async def work(rt: Runtime) -> SweepResult:
        with render.progress(err) as tick:
            reaper = Sweep(
                rt.platform, rt.ledger, rt.settings, apply=False, on_conversation=tick, selection=selection
            )
            return await reaper.run()

    codes = []
    for done in each_org(settings, found, work):
        if done.result is None:
            codes.append(done.code)
            continue
        _heading(done.org)
        render.sweep_table(out, done.result.lines, apply=False)
        render.summary(out, done.result.summary)
        codes.append(pass_code(done.org, done.result, failures=False))
    if worst(codes) != EXIT_OK:
        raise typer.Exit(worst(codes))


@command()
def explain(
    conversation_id: str = typer.Argument(..., metavar="ID", help="The conversation to explain."),
    org: str | None = OrgOption,
    config: Path | None = ConfigOption,
) -> None:
    """Participants, roles, activity timeline, the rule that applies and what would be done.

    With organizations and no --org, each is asked in turn until one has the conversation."""
    from session_reaper.commands import terminal as render
    from session_reaper.commands.exits import worst
    from session_reaper.commands.explaining import explain as explain_one

    settings = load(config)
    found = targets(settings, org)

    async def work(rt: Runtime) -> Any:
        rt.ledger.clock = rt.api.clock.now
        return await explain_one(rt.platform, rt.ledger, rt.settings, conversation_id)

    codes = []
    for organization in found:  # one at a time: the first that has it answers
        (done,) = each_org(settings, [organization], work)
        if done.result is not None:
            _heading(done.org)
            found_one = done.result
            render.explanation(out, found_one.conversation, found_one.now, found_one.verdict, found_one.steps)
            return
        codes.append(done.code)
    if worst(codes) != EXIT_OK:
        raise typer.Exit(worst(codes))
    where = f" in {', '.join(str(o.name) for o in found)}" if settings.orgs else ""
    raise fail(EXIT_USAGE, f"conversation {conversation_id} not found{where}")
