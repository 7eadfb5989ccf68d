"""The report on a terminal: rich tables of `report.ReportData`, labelled as the page and JSON label them."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from session_reaper.commands.report.figures import FIGURE_LABELS, ReportData, figure_text
from session_reaper.commands.report.wording import (
    NO_CLOSE,
    NO_FAILURE,
    NOTHING_DONE,
    cost_rows,
    org_rows,
    period_text,
    rule_rows,
    spread_text,
    when,
)
from session_reaper.ledger.history import NONE


def _counts(console: Console, title: str, heading: str, rows: Sequence[tuple[str, int]], none: str) -> None:
    if not rows:
        console.print(Text(f"{title}: {none}"))
        return
    table = Table(title=title, title_justify="left")
    table.add_column(heading, overflow="fold")
    table.add_column("closes", justify="right")
    for key, count in rows:
        table.add_row(Text(key), figure_text(count))
    console.print(table)


def render_terminal(console: Console, data: ReportData) -> None:
    """Rich tables; every value is printed as plain text (no markup from the ledger is interpreted)."""
    console.print(f"[bold]Report[/] {period_text(data)}", markup=True)
    overview = Table(title="Overview", title_justify="left", show_header=False)
    overview.add_column("figure")
    overview.add_column("value", justify="right")
    for key, value in data.figures().items():
        overview.add_row(FIGURE_LABELS[key], figure_text(value))
    overview.add_row("first sweep", when(data.first_sweep_at))
    overview.add_row("last sweep", when(data.last_sweep_at))
    if data.idle_minutes:
        overview.add_row("idle before close", spread_text(data.idle_minutes))
    if data.past_threshold_minutes:
        overview.add_row("acted past the rule's threshold", spread_text(data.past_threshold_minutes))
    console.print(overview)
    if data.by_org:
        org_headings, org_cells = org_rows(data)
        by_org = Table(title="By organization", title_justify="left")
        for i, heading in enumerate(org_headings):
            by_org.add_column(heading, justify="right" if i else "left", overflow="fold")
        for cells in org_cells:
            by_org.add_row(*(Text(c) for c in cells))
        console.print(by_org)
    headings, rows = rule_rows(data)
    if rows:
        by_rule = Table(title="Acted on, by rule", title_justify="left")
        for i, heading in enumerate(headings):
            by_rule.add_column(heading, justify="right" if i else "left")
        for cells in rows:
            by_rule.add_row(*(Text(c) for c in cells))
        console.print(by_rule)
    else:
        console.print(Text(f"Acted on, by rule: {NOTHING_DONE}"))
    _counts(console, "Closes by queue", "queue", data.by_queue, NO_CLOSE)
    _counts(console, "Closes by hour (UTC)", "hour", data.by_hour, NO_CLOSE)
    if data.failures:
        failures = Table(title="Failures", title_justify="left")
        for column in ("when", "conversation", "rule", "decision", "last error", "context id"):
            failures.add_column(column, overflow="fold")
        for f in data.failures:
            failures.add_row(
                when(f.decided_at),
                f.conversation_id,
                f.rule or NONE,
                f.decision,
                f.last_error,
                f.context_id or "-",
            )
        console.print(failures)
    else:
        console.print(Text(f"Failures: {NO_FAILURE}"))
    if data.console_actions:
        people = Table(title="Console actions", title_justify="left")
        for column in ("when", "operator", "action", "conversation", "detail"):
            people.add_column(column, overflow="fold")
        for a in data.console_actions:
            people.add_row(when(a.at), Text(a.operator), a.action, a.conversation_id, Text(a.detail or "-"))
        console.print(people)
    cost = Table(title="API requests per close", title_justify="left", show_header=False)
    cost.add_column("figure")
    cost.add_column("value", justify="right")
    for label, text in cost_rows(data):
        cost.add_row(label, text)
    console.print(cost)
