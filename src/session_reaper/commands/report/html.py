"""The report as one self-contained HTML page: inline CSS, inline SVG charts, no script, every string escaped.

Every figure and chart comes from `report.ReportData` (the ledger's figures): the cards are `FIGURES`,
the tables are the terminal's own rows, so the page says what the terminal and `--json` say.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

from session_reaper.commands.report import charts
from session_reaper.commands.report.figures import FIGURE_LABELS, TIMELINE_TITLE, ReportData, figure_text
from session_reaper.commands.report.timelines import hour_labels, hourly, hourly_cost
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
from session_reaper.core.rules import Action
from session_reaper.ledger.history import NONE

BAR_HOURS_MAX = 72  # more hours than this are drawn as a line, not as bars
QUEUES_SHOWN = 20
IDLE_TITLE = "Idle time before close"
PAST_TITLE = "Reaction delay: how long past the rule's threshold"
COST_TITLE = "API requests per close, by hour"

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f5f6f8; color: #222;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
header { background: #1f3b57; color: #fff; padding: 22px 32px 18px; }
header h1 { margin: 0 0 4px; font-size: 24px; font-weight: 600; }
header p { margin: 0; opacity: .85; }
main { max-width: 1120px; margin: 0 auto; padding: 20px 24px 40px; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px;
  margin-bottom: 20px; }
.figure { background: #fff; border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
.figure .value { font-size: 26px; font-weight: 600; color: #1f3b57; }
.figure .label { font-size: 13px; color: #666; }
.figure.bad .value { color: #b8455a; }
section { background: #fff; border-radius: 8px; padding: 16px 20px; margin-bottom: 18px;
  box-shadow: 0 1px 2px rgba(0,0,0,.08); break-inside: avoid; }
section h2 { margin: 0 0 10px; font-size: 17px; font-weight: 600; color: #1f3b57; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 18px;
  margin-bottom: 18px; }
.grid2 section { margin-bottom: 0; }
.note { color: #666; font-size: 13px; margin: 6px 0 0; }
.empty { color: #888; font-style: italic; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
th { color: #555; font-weight: 600; background: #fafafa; }
td.num, th.num { text-align: right; white-space: nowrap; }
tbody td:first-child { white-space: nowrap; }
td.id { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px;
  word-break: break-all; }
svg { display: block; max-width: 100%; height: auto; }
footer { color: #888; font-size: 12px; text-align: center; padding: 10px; }
@media print { body { background: #fff; } section, .figure { box-shadow: none; border: 1px solid #ddd; } }
"""


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _figure(value: str, label: str, *, bad: bool = False) -> str:
    css = "figure bad" if bad else "figure"
    return f'<div class="{css}"><div class="value">{e(value)}</div><div class="label">{e(label)}</div></div>'


def _section(title: str, body: str, note: str = "") -> str:
    extra = f'<p class="note">{e(note)}</p>' if note else ""
    return f"<section>\n<h2>{e(title)}</h2>\n{body}\n{extra}</section>"


def _empty_text(text: str) -> str:
    return f'<p class="empty">{e(text[:1].upper() + text[1:])}</p>'


def _table(
    headings: Sequence[str], rows: Sequence[Sequence[str]], classes: Mapping[int, str] | None = None
) -> str:
    """An HTML table; every cell is escaped here. `classes`: column index -> CSS class ("num", "id")."""

    def cls(i: int) -> str:
        return f' class="{(classes or {})[i]}"' if i in (classes or {}) else ""

    head = "".join(f"<th{cls(i)}>{e(h)}</th>" for i, h in enumerate(headings))
    body = "\n".join(
        "<tr>" + "".join(f"<td{cls(i)}>{e(c)}</td>" for i, c in enumerate(row)) + "</tr>" for row in rows
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _grid(*sections: str) -> str:
    return '<div class="grid2">\n' + "\n".join(sections) + "\n</div>"


HALF = 480  # the width of a chart that shares its row with another: its text stays legible
CHART_HEIGHT = 260
FULL = 960  # the width of a chart alone on its row


def hour_chart(data: ReportData, width: int = HALF) -> str:
    series = hourly(data.by_hour)
    labels = hour_labels([h for h, _ in series])
    title = "Closes by hour (UTC)"
    counts = [float(n) for _, n in series]
    if len(series) > BAR_HOURS_MAX:
        return charts.line_chart(labels, {"closes": counts}, title=title, value_label="closes", width=width)
    return charts.bar_chart(
        list(zip(labels, counts, strict=True)),
        title=title,
        value_label="closes",
        width=width,
        height=CHART_HEIGHT,
        empty="no closes",
    )


def rule_chart(data: ReportData, width: int = HALF) -> str:
    """Every action done, by rule: closes, teardowns and wrap-ups side by side (warnings are not ends)."""
    totals = [
        (rule, float(sum(n for kind, n in counts.items() if kind != Action.WARN)))
        for rule, counts in data.acted_by_rule
    ]
    return charts.bar_chart(
        [(rule, total) for rule, total in totals if total],
        title="Acted on, by rule",
        orientation="horizontal",
        value_label="closed, torn down or wrapped up",
        width=width,
        height=max(CHART_HEIGHT, 46 + 30 * len(totals)),
        empty="nothing acted on",
    )


def timeline_chart(data: ReportData) -> str:
    timeline = data.timeline
    if timeline is None:
        return charts.line_chart([], {}, title=TIMELINE_TITLE, width=FULL, empty="no closes")
    labels = [label for label, _ in timeline.points]
    return charts.line_chart(
        labels, timeline.series(), title=timeline.title, value_label=timeline.value_label, width=FULL
    )


def cost_chart(data: ReportData) -> str:
    return charts.bar_chart(
        hourly_cost(data),
        title=COST_TITLE,
        value_label="requests per close",
        width=FULL,
        height=CHART_HEIGHT,
        color=charts.PALETTE[1],
        empty="no applied sweep finished",
    )


def _spread_chart(values: Sequence[float], title: str, label: str) -> str:
    return charts.histogram(
        values, title=title, value_label=label, width=HALF, height=CHART_HEIGHT, empty="no closes"
    )


def write_html(path: Path, data: ReportData, title: str = "session-reaper report") -> None:
    """Write the page atomically enough for a report: to a sibling temporary file, then renamed."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(render_html(data, title), encoding="utf-8")
    temporary.replace(path)


def render_html(data: ReportData, title: str = "session-reaper report") -> str:
    """One self-contained HTML page: inline CSS, inline SVG charts, no script, every string escaped."""
    subtitle = period_text(data)
    if data.first_sweep_at is not None:
        subtitle += f" · first sweep {when(data.first_sweep_at)} · last sweep {when(data.last_sweep_at)}"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{e(title)}</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            f"<header><h1>{e(title)}</h1><p>{e(subtitle)}</p></header>",
            "<main>",
            render_body(data),
            "</main>",
            f"<footer>session-reaper · figures from the ledger up to {e(when(data.until))} · times in UTC"
            "</footer>",
            "</body>",
            "</html>",
            "",
        ]
    )


def render_body(data: ReportData) -> str:
    """The page's figures, charts and tables without the page around them: the console's history shows it."""
    figures = [
        _figure(figure_text(value), FIGURE_LABELS[key], bad=key == "failed" and bool(value))
        for key, value in data.figures().items()
    ]
    sections: list[str] = []
    if data.empty:
        sections.append(
            _section("Nothing recorded yet", _empty_text("The ledger holds no sweep in this period."))
        )
    if data.by_org:
        org_headings, org_cells = org_rows(data)
        org_table = _table(org_headings, org_cells, dict.fromkeys(range(1, len(org_headings)), "num"))
        sections.append(_section("By organization", org_table, "Each organization's sweeps, acts and cost."))
    headings, rows = rule_rows(data)
    rule_table = _table(headings, rows, dict.fromkeys(range(1, len(headings)), "num")) if rows else ""
    sections.append(
        _grid(
            _section(
                "Acted on, by rule", rule_chart(data) + "\n" + (rule_table or _empty_text(NOTHING_DONE))
            ),
            _section("Closes by hour (UTC)", hour_chart(data)),
        )
    )
    timeline_note = "Closes and teardowns done, by rule, from the first close of the period."
    sections.append(_section(TIMELINE_TITLE, timeline_chart(data), timeline_note))
    if data.by_queue:
        queue_chart = charts.bar_chart(
            [(queue, float(n)) for queue, n in data.by_queue[:QUEUES_SHOWN]],
            title="Closes by queue",
            orientation="horizontal",
            value_label="closes",
            width=FULL,
        )
        more = len(data.by_queue) - QUEUES_SHOWN
        note = f"{more} more queues not shown." if more > 0 else ""
        sections.append(_section("Closes by queue", queue_chart, note))
    else:
        sections.append(_section("Closes by queue", _empty_text(NO_CLOSE)))
    sections.append(
        _grid(
            _section(
                IDLE_TITLE,
                _spread_chart(data.idle_minutes, IDLE_TITLE, "minutes since the last message"),
                f"How long nobody had written when the reaper closed it: {spread_text(data.idle_minutes)}."
                if data.idle_minutes
                else "",
            ),
            _section(
                PAST_TITLE,
                _spread_chart(data.past_threshold_minutes, PAST_TITLE, "minutes past the threshold"),
                "How long the rule's condition had held beyond its threshold when the reaper acted "
                f"(its own clock: e.g. since the customer left): {spread_text(data.past_threshold_minutes)}."
                if data.past_threshold_minutes
                else "",
            ),
        )
    )
    sections.append(
        _section(
            COST_TITLE, cost_chart(data), "Every request of the applied sweeps that finished in the hour."
        )
    )
    if data.failures:
        failure_rows = [
            (
                when(f.decided_at),
                f.conversation_id,
                f.rule or NONE,
                f.decision,
                f.reason or "",
                f.last_error,
                f.context_id or "",
            )
            for f in data.failures
        ]
        columns = ("when", "conversation", "rule", "decision", "why", "last error", "context id")
        body = _table(columns, failure_rows, {1: "id", 6: "id"})
    else:
        body = _empty_text(NO_FAILURE)
    sections.append(_section(f"Failures ({len(data.failures)})", body))
    if data.console_actions:
        people = [
            (when(a.at), a.operator, a.action, a.conversation_id, a.detail or "")
            for a in data.console_actions
        ]
        console_columns = ("when", "operator", "action", "conversation", "detail")
        sections.append(_section("Console actions", _table(console_columns, people, {3: "id"})))
    sections.append(
        _section("API requests per close", _table(("figure", "value"), cost_rows(data), {1: "num"}))
    )
    return "\n".join([f'<div class="figures">{"".join(figures)}</div>', *sections])
