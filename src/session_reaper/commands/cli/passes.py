"""The passes over the platform: `sweep` (act or dry run), `scan` (a table of verdicts), `explain` (one)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

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
    run,
)
from session_reaper.errors import EXIT_ACTION_FAILED, EXIT_AUTH, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from session_reaper.engine.selection import Selection


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
    config: Path | None = ConfigOption,
) -> None:
    """One pass: discover, decide, act (or show what would be done)."""
    from session_reaper.commands import terminal as render
    from session_reaper.commands.runtime import open_runtime
    from session_reaper.core.results import json_line
    from session_reaper.engine.sweep import Sweep

    settings = load(config, apply=apply)
    max_age = _duration("--plan-max-age", plan_max_age)
    selection = _selection(only, plan_file, fresh=fresh, dry_run=not settings.sweep.apply)

    def show(line):  # type: ignore[no-untyped-def]
        if json_lines:
            print(json_line(line.to_json()), flush=True)

    async def work():  # type: ignore[no-untyped-def]
        async with open_runtime(settings) as rt:
            if selection.plan is not None:  # before anything is sent, recovery included
                selection.plan.check_age(rt.api.clock.now(), max_age)
            reaper = Sweep(
                rt.platform,
                rt.ledger,
                settings,
                apply=settings.sweep.apply,
                on_line=show,
                selection=selection,
            )
            return await reaper.run()

    result = run(work)
    if json_lines:
        print(json_line(result.summary.to_json()), flush=True)
    else:
        render.sweep_table(out, result.lines, apply=settings.sweep.apply)
        render.summary(out, result.summary)
    if result.aborted is not None:
        raise fail(EXIT_AUTH, str(result.aborted))
    if result.unfinished is not None:
        raise fail(EXIT_ACTION_FAILED, f"the pass could not finish: {result.unfinished}")
    raise typer.Exit(EXIT_ACTION_FAILED if result.summary.failed else EXIT_OK)


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
def scan(fresh: bool = FreshOption, config: Path | None = ConfigOption) -> None:
    """Dry run: a table of every conversation in scope with its verdict and why."""
    from session_reaper.commands import terminal as render
    from session_reaper.commands.runtime import open_runtime
    from session_reaper.engine.selection import Selection
    from session_reaper.engine.sweep import Sweep

    settings = load(config).with_apply(False)
    selection = Selection(fresh=fresh, list_unread=True)

    async def work():  # type: ignore[no-untyped-def]
        async with open_runtime(settings) as rt:
            with render.progress(err) as tick:
                reaper = Sweep(
                    rt.platform, rt.ledger, settings, apply=False, on_conversation=tick, selection=selection
                )
                return await reaper.run()

    result = run(work)
    render.sweep_table(out, result.lines, apply=False)
    render.summary(out, result.summary)
    if result.aborted is not None:
        raise fail(EXIT_AUTH, str(result.aborted))
    if result.unfinished is not None:
        raise fail(EXIT_ACTION_FAILED, f"the pass could not finish: {result.unfinished}")


@command()
def explain(
    conversation_id: str = typer.Argument(..., metavar="ID", help="The conversation to explain."),
    config: Path | None = ConfigOption,
) -> None:
    """Participants, roles, activity timeline, the rule that applies and what would be done."""
    from session_reaper.commands import terminal as render
    from session_reaper.commands.explaining import explain as explain_one
    from session_reaper.commands.runtime import open_runtime

    settings = load(config)

    async def work():  # type: ignore[no-untyped-def]
        async with open_runtime(settings) as rt:
            rt.ledger.clock = rt.api.clock.now
            return await explain_one(rt.platform, rt.ledger, settings, conversation_id)

    found = run(work)
    if found is None:
        raise fail(EXIT_USAGE, f"conversation {conversation_id} not found")
    render.explanation(out, found.conversation, found.now, found.verdict, found.steps)
