"""What a reader sees reads naturally: durations spelled "10h 0m 21s", axis labels that never collide."""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest

from session_reaper.commands.report import charts
from session_reaper.commands.report.wording import minutes_text, period_text, spread_text
from session_reaper.core.schedule import format_span

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(hours=10, seconds=21), "10h 0m 21s"),
        (timedelta(hours=1, minutes=30), "1h 30m"),
        (timedelta(hours=2), "2h"),
        (timedelta(minutes=41), "41m"),
        (timedelta(seconds=45), "45s"),
        (timedelta(seconds=45.9), "45s"),
        (timedelta(days=1, seconds=5), "1d 0h 0m 5s"),
        (timedelta(days=7), "7d"),
        (timedelta(days=2, hours=3), "2d 3h"),
        (timedelta(0), "0s"),
        (timedelta(minutes=-5), "-5m"),
    ],
)
def test_durations_read_naturally(value: timedelta, text: str) -> None:
    assert format_span(value) == text


def test_the_report_spells_minutes_and_periods_with_the_one_formatter() -> None:
    assert minutes_text(600.35) == "10h 0m 21s"
    assert minutes_text(None) == "-"
    assert spread_text([6, 16, 31, 33, 35, 41, 90]) == "median 33m / p90 1h 30m"
    from datetime import UTC, datetime

    from session_reaper.commands.report.figures import ReportData

    start = datetime(2026, 11, 21, 8, tzinfo=UTC)
    data = ReportData(since=start, until=start + timedelta(hours=10, seconds=21))
    assert period_text(data).endswith("(10h 0m 21s)")


# ------------------------------------------------------------------------------------ axis labels


def _boxes(svg: str) -> list[tuple[float, float, float, float]]:
    """The category labels under the x axis as boxes (x0, y0, x1, y1), turned as drawn."""
    root = ET.fromstring(svg)
    texts = [t for t in root.iter(f"{SVG}text") if t.get("transform") or t.get("text-anchor") == "middle"]
    axis_y = max(float(t.get("y", 0)) for t in texts)  # the lowest row of labels: the categories
    boxes = []
    for t in texts:
        y = float(t.get("y", 0))
        if abs(y - axis_y) > 0.5 or not t.text:
            continue
        x, width, height = float(t.get("x", 0)), charts.CHAR * len(t.text), 12.0
        if t.get("transform"):
            # Turned about its end by SLANT degrees: its baseline runs up-left from (x, y).
            angle = math.radians(charts.SLANT)
            dx, dy = width * math.cos(angle), width * math.sin(angle)
            # Two neighbours collide when their parallel baselines are closer than a line's height.
            boxes.append((x - dx, y - dy, x, y))
        else:
            boxes.append((x - width / 2, y - height, x + width / 2, y))
    return boxes


def _collide(boxes: list[tuple[float, float, float, float]], slanted: bool) -> list[int]:
    found = []
    ordered = sorted(boxes)
    for i in range(1, len(ordered)):
        if slanted:
            # Parallel slanted baselines: their distance is the x step times the slant's sine.
            step = ordered[i][2] - ordered[i - 1][2]
            if step * math.sin(math.radians(charts.SLANT)) < 12.0:
                found.append(i)
        elif ordered[i][0] < ordered[i - 1][2]:
            found.append(i)
    return found


@pytest.mark.parametrize(
    ("count", "length", "width"),
    [
        (6, 5, 480),  # a few hours, "09:00": level
        (24, 5, 480),  # a day of hours in half a row
        (72, 11, 960),  # three days, "11-21 09:00"
        (200, 11, 480),  # far too many for any room
        (12, 30, 960),  # long queue names on a time axis
        (40, 18, 960),
    ],
)
def test_category_labels_never_collide(count: int, length: int, width: int) -> None:
    labels = [f"{i:02d}" + "x" * (length - 2) for i in range(count)]
    for svg in (
        charts.bar_chart([(label, float(i % 7)) for i, label in enumerate(labels)], title="t", width=width),
        charts.line_chart(labels, {"a": [float(i % 5) for i in range(count)]}, title="t", width=width),
    ):
        boxes = _boxes(svg)
        assert boxes, "no category label drawn"
        slanted = "rotate(" in svg
        assert not _collide(boxes, slanted), (count, length, width, slanted)
        root = ET.fromstring(svg)
        height = float(root.get("viewBox", "0 0 0 0").split()[3])
        # Everything drawn stays inside the picture: no label cut at the bottom or the left edge.
        assert all(y1 <= height and x0 >= -0.5 for x0, _, _, y1 in boxes), (count, length, width)


def test_labels_that_fit_stay_level_and_all_are_drawn() -> None:
    svg = charts.bar_chart([(f"{h:02d}:00", 1.0) for h in range(8, 14)], title="t", width=960)
    assert "rotate(" not in svg and len(_boxes(svg)) == 6


def test_histogram_edges_never_collide_in_half_a_row() -> None:
    svg = charts.histogram([float(v) for v in range(0, 2000, 7)], title="t", width=480, bin_width=50.0)
    root = ET.fromstring(svg)
    edges = [t for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "middle" and t.text]
    base = max(float(t.get("y", 0)) for t in edges if t.text and t.text[0].isdigit())
    row = sorted(
        (float(t.get("x", 0)), len(t.text or "")) for t in edges if abs(float(t.get("y", 0)) - base) < 0.5
    )
    assert len(row) >= 3
    for (x0, n0), (x1, n1) in itertools.pairwise(row):
        assert x1 - x0 >= charts.CHAR * (n0 + n1) / 2, row


def test_the_legend_never_overlaps_in_half_a_row() -> None:
    names = [f"rule-with-a-long-name-{i}" for i in range(6)]
    svg = charts.line_chart(["a", "b"], {n: [1.0, 2.0] for n in names}, title="t", width=480)
    root = ET.fromstring(svg)
    legend = [t for t in root.iter(f"{SVG}text") if t.text in names]
    rows: dict[float, list[float]] = {}
    for t in legend:
        rows.setdefault(float(t.get("y", 0)), []).append(float(t.get("x", 0)))
    for xs in rows.values():
        xs.sort()
        for a, b in itertools.pairwise(xs):
            assert b - a >= charts.CHAR * len(names[0]), rows
