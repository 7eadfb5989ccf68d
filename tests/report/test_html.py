"""The HTML report: self-contained, one SVG per chart, the expected labels, every string escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from session_reaper.commands.report.collect import collect
from session_reaper.commands.report.figures import ReportData
from session_reaper.commands.report.html import render_html, write_html
from session_reaper.commands.report.timelines import rule_timeline
from session_reaper.ledger import Ledger
from tests.environment import require_chromium, screenshot
from tests.helpers.pages import parse

from .conftest import HOSTILE, NOW, T0

WEEK = NOW - timedelta(days=7)


def svgs(page: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL)


@pytest.fixture
def data(filled: Ledger) -> ReportData:
    return collect(filled, WEEK, NOW)


def test_a_chart_per_figure_and_the_expected_labels(data: ReportData) -> None:
    page = render_html(data, "Weekly report")
    charts = svgs(page)
    assert len(charts) == 7
    for chart in charts:
        ET.fromstring(chart)  # each chart is well-formed XML (SVG), not just tag soup
    rule_chart, hour_chart, over_time, queue_chart, idle_chart, past_chart, cost_chart = charts
    for label in ("idle", "customer-left", "orphaned"):
        assert f">{label}</text>" in rule_chart and f">{label}</text>" in over_time
    for label in ("09:00", "10:00", "11:00", "12:00"):  # 11:00 had no close: still on the axis
        assert label in hour_chart
    assert over_time.count("<polyline") == 3
    assert ">q-sales</text>" in queue_chart and ">(no queue)</text>" in queue_chart
    assert ">minutes since the last message</text>" in idle_chart and idle_chart.count("<rect") >= 3
    assert ">minutes past the threshold</text>" in past_chart and past_chart.count("<rect") >= 2
    assert cost_chart.count("<rect") == 2  # two applied sweeps finished in two hours: 10 per close each
    for text in (
        "Weekly report",
        "Acted on, by rule",
        "Closes by hour (UTC)",
        "Failures (2)",
        "c-fail2",
        "ctx-9",
        "median 33m / p90 1h 30m",
    ):
        assert text in page
    assert "API requests per close" in page and ">10.0<" in page and ">70<" in page
    assert "2026-11-14 15:00 UTC → 2026-11-21 15:00 UTC (7d) · first sweep 2026-11-21 08:50 UTC" in page


def test_the_page_parses_and_is_self_contained(data: ReportData) -> None:
    page = render_html(data)
    parsed = parse(page)
    assert parsed.problems == []
    assert parsed.tags["html"] == parsed.tags["head"] == parsed.tags["body"] == 1
    assert parsed.tags["svg"] == 7
    assert "script" not in parsed.tags and "link" not in parsed.tags and "img" not in parsed.tags
    # No reference to anything outside the page (text is escaped, so a raw quote is always markup).
    assert not re.search(r"""(?:src|href)\s*=\s*["']|url\(|@import""", page)


def test_hostile_strings_are_escaped(data: ReportData) -> None:
    hostile_rule = [("<b>rule</b>", {"close": 1, "teardown": 0, "wrapup": 0, "warn": 0})]
    page = render_html(
        replace(data, acted_by_rule=hostile_rule, by_queue=[("<b>q</b>", 1)]), title="<i>t</i>"
    )
    assert "<script" not in page and "<img" not in page and "<b>" not in page and "<i>" not in page
    assert (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;" in page
    )
    assert "still connected after escalation &lt;b&gt;" in page
    assert "&lt;b&gt;rule&lt;/b&gt;" in page and "&lt;b&gt;q&lt;/b&gt;" in page
    assert HOSTILE in "".join(parse(page).text)  # shown to the reader exactly as recorded
    assert parse(page).problems == []


def test_closes_by_rule_over_time_from_the_ledger(filled: Ledger, data: ReportData) -> None:
    timeline = rule_timeline(filled, T0, T0 + timedelta(hours=12), title="Closes by rule over the day")
    chart = svgs(render_html(replace(data, timeline=timeline)))[2]
    assert "Closes by rule over the day" in chart and chart.count("<polyline") == 3
    assert ">orphaned</text>" in chart and ">20:00</text>" in chart


def test_an_empty_report_still_renders(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    write_html(target, ReportData(since=WEEK, until=NOW))
    page = target.read_text(encoding="utf-8")
    assert "Nothing recorded yet" in page and "no closes" in page and "No failure in this period." in page
    # An empty table is a sentence, never a row of headings over nothing.
    assert "<table" not in page.split("API requests per close</h2>")[0]
    assert "Nothing was closed, torn down, wrapped up or warned in this period." in page
    assert "first sweep" not in page
    assert parse(page).problems == []
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_many_hours_become_a_line(data: ReportData) -> None:
    hours = [((T0 + timedelta(hours=h)).strftime("%Y-%m-%dT%H:00Z"), h % 5) for h in range(0, 24 * 6, 2)]
    chart = svgs(render_html(replace(data, by_hour=hours)))[1]
    assert "<polyline" in chart and "<rect" not in chart


def test_headless_chromium_renders_the_page(data: ReportData, tmp_path: Path) -> None:
    require_chromium()
    page = tmp_path / "report.html"
    write_html(page, data, "session-reaper report")
    png = tmp_path / "report.png"
    screenshot(page, png, profile=tmp_path / "profile", width=1200, height=1600, timeout=60)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000  # a blank 1200x1600 page is a few kilobytes
