"""The demo's tables: what a dry run would do, what the applied sweep did, the day with and without."""

from __future__ import annotations

import math
from collections import Counter

from rich.console import Console
from rich.table import Table

from genesys_emulator.traffic import DEMO_QUEUES
from session_reaper.commands.demo.recording import Day, SweepRecord, silent_minutes
from session_reaper.commands.report import figures as report
from session_reaper.commands.report.figures import ACTIONS
from session_reaper.core.results import DecisionLine, Outcome
from session_reaper.core.rules import RULE_ORDER, Action

TABLE_ROWS = 25

_QUEUE_NAMES = {queue_id: name for queue_id, name, *_ in DEMO_QUEUES}


def _short(conversation_id: str) -> str:
    return conversation_id[:8]


def _rule_key(rule: str | None) -> int:
    return RULE_ORDER.index(rule) if rule in RULE_ORDER else len(RULE_ORDER)


def _queue(line: DecisionLine) -> str:
    return _QUEUE_NAMES.get(line.queue_id or "", line.queue_id or "-")


def dry_run_tables(console: Console, record: SweepRecord) -> None:
    actionable = [ln for ln in record.lines if ln.outcome is Outcome.DRY_RUN]
    by_rule: dict[str, list[DecisionLine]] = {}
    for line in sorted(actionable, key=lambda ln: _rule_key(ln.rule)):
        by_rule.setdefault(line.rule or "-", []).append(line)

    def silence(line: DecisionLine) -> float:
        return silent_minutes(record.decided.get(line.conversation_id), record.at) or 0.0

    # A readable sample: the longest-silent conversations of every rule, at most TABLE_ROWS in all.
    per_rule = max(1, math.ceil(TABLE_ROWS / max(1, len(by_rule))))
    shown: list[DecisionLine] = []
    for lines in by_rule.values():
        shown.extend(sorted(lines, key=silence, reverse=True)[:per_rule])
    shown = shown[:TABLE_ROWS]
    table = Table(
        title="Dry run: what the reaper would do, and why (nothing was changed)", title_justify="left"
    )
    for column, style in (("id", "dim"), ("queue", ""), ("rule", "bold"), ("do", "cyan")):
        table.add_column(column, style=style, no_wrap=True)
    table.add_column("why", overflow="fold")
    for line in shown:
        table.add_row(
            _short(line.conversation_id), _queue(line), line.rule or "-", line.decision, line.reason
        )
    if len(actionable) > len(shown):
        table.add_row(
            "…", "", "", "", f"and {len(actionable) - len(shown)} more (every one is counted below)"
        )
    console.print(table)

    counts = Table(title="Would act on, by rule", title_justify="left")
    counts.add_column("rule", style="bold")
    counts.add_column("conversations", justify="right")
    counts.add_column("calls it would make (in order)", overflow="fold")
    for rule, lines in by_rule.items():
        counts.add_row(rule, str(len(lines)), " → ".join(lines[0].steps))
    counts.add_row("total", str(len(actionable)), "", style="bold")
    console.print(counts)

    left = Counter(_left_alone(ln) for ln in record.lines if ln.outcome is not Outcome.DRY_RUN)
    alone = Table(title="Left alone", title_justify="left")
    alone.add_column("why", overflow="fold")
    alone.add_column("conversations", justify="right")
    for why, n in left.most_common():
        alone.add_row(why, str(n))
    console.print(alone)


def _left_alone(line: DecisionLine) -> str:
    if line.decision == Action.DEFER or "platform's inactivity timer" in line.reason:
        return "left to the platform's own inactivity timer"
    if line.reason.startswith("exempt"):
        return "exempt (reaper.exempt = true)"
    if line.rule is not None and line.decision == Action.SKIP:
        if "no wrapup_code" in line.reason or "not allowed" in line.reason:
            return line.reason
        return "active, or not silent for long enough yet"
    if line.outcome is Outcome.DEFERRED:
        return "deferred: per-sweep cap reached"
    return line.reason.split(" (")[0]


def applied_table(console: Console, record: SweepRecord) -> None:
    lines = [ln for ln in record.lines if ln.decision in ACTIONS]
    rules = sorted({ln.rule or "-" for ln in lines}, key=_rule_key)
    table = Table(title="Applied: what the reaper did", title_justify="left")
    table.add_column("rule", style="bold")
    for column in ("done", "cancelled", "failed"):
        table.add_column(column, justify="right")
    table.add_column("calls made, e.g. conversation", overflow="fold")
    for rule in rules:
        mine = [ln for ln in lines if (ln.rule or "-") == rule]
        outcomes = Counter(ln.outcome for ln in mine)
        example = next((ln for ln in mine if ln.outcome is Outcome.DONE), mine[0])
        table.add_row(
            rule,
            f"[green]{outcomes[Outcome.DONE]}[/]",
            str(outcomes[Outcome.CANCELLED]),
            f"[red]{outcomes[Outcome.FAILED]}[/]" if outcomes[Outcome.FAILED] else "0",
            f"{_short(example.conversation_id)}: " + " → ".join(example.steps),
        )
    console.print(table)
    summary = record.result.summary
    ended = summary.closed + summary.torn_down
    console.print(
        f"Closed {summary.closed}, tore down {summary.torn_down}, applied {summary.wrapped_up} wrap-ups"
        f" with {summary.api_requests} API requests"
        + (f" ({summary.api_requests / ended:.1f} per conversation ended)" if ended else "")
        + f", in {summary.duration_seconds:.1f} s.",
    )
    for line in lines:
        if line.outcome is Outcome.FAILED:
            console.print(f"[red]failed[/] {line.conversation_id} ({line.rule}): {line.error}")


def summary_table(
    console: Console,
    day: Day,
    whole: report.ReportData,
    during: report.ReportData,
    *,
    wall_seconds: float,
    refused: int,
) -> None:
    """The day in figures: the report's own (`report.FIGURES`, from the ledger), then what only the
    demo sees (its worlds, its wall time). `during` is the ledger's figures after the backlog sweep."""
    by_rule = Table(title="Acted on by rule", title_justify="left")
    by_rule.add_column("rule", style="bold")
    by_rule.add_column(f"backlog at {day.start:%H:%M}", justify="right")
    by_rule.add_column("during the day", justify="right")
    by_rule.add_column("total", justify="right", style="bold")
    day_counts = {rule: sum(counts.values()) for rule, counts in during.acted_by_rule}
    all_counts = {rule: sum(counts.values()) for rule, counts in whole.acted_by_rule}
    for rule in sorted(all_counts, key=_rule_key):
        total, later = all_counts[rule], day_counts.get(rule, 0)
        by_rule.add_row(rule, str(total - later), str(later), str(total))
    total, later = sum(all_counts.values()), sum(day_counts.values())
    by_rule.add_row("all rules", str(total - later), str(later), str(total), style="bold")
    console.print(by_rule)

    table = Table(title="Summary (every applied sweep)", title_justify="left", show_header=False)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in whole.figures().items():
        table.add_row(report.FIGURE_LABELS[key], report.figure_text(value))
    rows = [
        ("guest/agent actions refused: chat already closed", str(refused)),
        (
            f"stale sessions at {day.end:%H:%M}: with the reaper / without",
            f"{day.points[-1].stale_with} / {day.points[-1].stale_without}" if day.points else "-",
        ),
        ("wall time", f"{wall_seconds:.1f} s"),
    ]
    for name, text in rows:
        table.add_row(name, text)
    console.print(table)
