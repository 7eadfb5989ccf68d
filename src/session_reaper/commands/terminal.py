"""How results look on a terminal (rich). Nothing here decides anything."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from session_reaper.commands.explaining import calls
from session_reaper.core.model import Conversation
from session_reaper.core.plan import Step
from session_reaper.core.results import DecisionLine, Outcome, Summary
from session_reaper.core.rules import Action, Verdict

_OUTCOME_STYLE = {
    Outcome.DONE: "green",
    Outcome.DRY_RUN: "cyan",
    Outcome.SKIPPED: "dim",
    Outcome.DEFERRED: "yellow",
    Outcome.CANCELLED: "magenta",
    Outcome.FAILED: "bold red",
}


def sweep_table(
    console: Console, lines: Sequence[DecisionLine], *, apply: bool, only_actions: bool = False
) -> None:
    shown = [ln for ln in lines if not only_actions or ln.decision != Action.SKIP]
    title = "Sweep" if apply else "Dry run: nothing was changed. To act: session-reaper sweep --apply"
    table = Table(title=title, show_lines=False, expand=False)
    table.add_column("conversation", no_wrap=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("decision", no_wrap=True)
    table.add_column("outcome", no_wrap=True)
    table.add_column("why", overflow="fold", ratio=3)
    table.add_column("steps", overflow="fold", ratio=2)
    for line in sorted(shown, key=lambda ln: (ln.decision == Action.SKIP, ln.rule or "", ln.conversation_id)):
        style = _OUTCOME_STYLE.get(line.outcome, "")
        why = line.reason + (f" — {line.error}" if line.error else "")
        table.add_row(
            line.conversation_id,
            line.rule or "-",
            line.decision,
            f"[{style}]{line.outcome.value}[/]",
            why,
            " → ".join(line.steps),
        )
    console.print(table)


def summary(console: Console, totals: Summary) -> None:
    table = Table(title="Summary", show_header=False)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in totals.to_json()["summary"].items():
        table.add_row(key, str(value))
    console.print(table)


def progress_bar(console: Console, what: str, *, detail: bool = False, transient: bool = False) -> Progress:
    """One live line: spinner, `what`, bar, n/total, (the task's `detail` field,) time elapsed."""
    columns = [SpinnerColumn(), TextColumn(what), BarColumn(), MofNCompleteColumn()]
    if detail:
        columns.append(TextColumn("{task.fields[detail]}"))
    return Progress(*columns, TimeElapsedColumn(), console=console, transient=transient)


@contextmanager
def progress(console: Console) -> Iterator[Callable[[], None]]:
    """A live progress line while a scan reads conversations (on stderr, so stdout stays clean)."""
    bar = progress_bar(console, "reading conversations", transient=True)
    with bar:
        task = bar.add_task("scan", total=None)
        yield lambda: bar.advance(task)


def _ago(now: datetime, then: datetime | None) -> str:
    if then is None:
        return "-"
    seconds = int((now - then).total_seconds())
    sign = "" if seconds >= 0 else "in "
    seconds = abs(seconds)
    if seconds >= 3600:
        text = f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    elif seconds >= 60:
        text = f"{seconds // 60}m"
    else:
        text = f"{seconds}s"
    return f"{sign}{text}" + (" ago" if not sign else "")


def explanation(
    console: Console, conversation: Conversation, now: datetime, verdict: Verdict, steps: Sequence[Step]
) -> None:
    console.print(
        f"[bold]Conversation {conversation.id}[/]  channel={conversation.channel or conversation.media}"
        f"  platform time {now.isoformat(timespec='seconds')}"
    )
    if conversation.inactivity_timeout is not None:
        console.print(f"platform inactivity timer fires {_ago(now, conversation.inactivity_timeout)}")
    people = Table(title="Participants")
    for column in ("participant", "purpose", "role", "state", "joined", "left", "after-call work", "wrap-up"):
        people.add_column(column)
    for p in conversation.participants:
        acw = "open" if p.in_after_call_work else ("-" if p.acw_started_at is None else "closed")
        wrapup = "-" if p.wrapup is None else (p.wrapup.code or "set")
        people.add_row(
            p.id,
            p.purpose,
            p.role.value,
            p.state,
            _ago(now, p.started_at),
            _ago(now, p.ended_at),
            acw,
            wrapup,
        )
    console.print(people)
    timeline = Table(title="Activity timeline (messages)")
    for column in ("when", "who", "kind"):
        timeline.add_column(column)
    for a in conversation.activities[-15:]:
        timeline.add_row(_ago(now, a.at), a.role.value, a.kind.value)
    console.print(timeline)
    console.print(f"[bold]Rule:[/] {verdict.rule or '-'}   [bold]decision:[/] {verdict.action.value}")
    console.print(f"[bold]Why:[/] {verdict.reason}")
    if verdict.eligible_at is not None and verdict.action in (Action.SKIP, Action.DEFER):
        console.print(f"Could become eligible {_ago(now, verdict.eligible_at)} (not read again before then).")
    if steps:
        console.print("[bold]Calls it would make:[/]")
        for call in calls(conversation.id, steps):
            console.print(f"  • {call}")
