"""The SVG charts: well-formed, scaled on round ticks, labels escaped, empty data handled."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from session_reaper.commands.report import charts

SVG = "{http://www.w3.org/2000/svg}"


def tree(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("viewBox")
    return root


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 1.0), (1, 1.0), (3, 5.0), (7, 10.0), (12, 20.0), (21, 25.0), (0.3, 0.5), (250, 250.0), (251, 500.0)],
)
def test_nice_ceiling(value: float, expected: float) -> None:
    assert charts.nice_ceiling(value) == pytest.approx(expected)


def test_ticks_are_round_and_cover_the_maximum() -> None:
    assert charts.ticks(7) == [0, 2, 4, 6, 8]
    assert charts.ticks(3) == [0, 1, 2, 3]  # counts are never split into fractions
    assert charts.ticks(0) == [0, 1]
    assert charts.ticks(0.4) == [0, 0.1, 0.2, 0.3, 0.4]
    assert charts.ticks(1234)[-1] >= 1234


def test_numbers_read_well() -> None:
    assert [charts.fmt(v) for v in (3, 3.0, 2.5, 1234.0, 0.125, 150.4)] == [
        "3",
        "3",
        "2.5",
        "1,234",
        "0.12",
        "150",
    ]


def test_vertical_bars() -> None:
    root = tree(charts.bar_chart([("a", 3), ("b", 7), ("c", 0)], title="Closes", value_label="closes"))
    bars = list(root.iter(f"{SVG}rect"))
    assert len(bars) == 3
    heights = [float(b.get("height", "0")) for b in bars]
    assert heights[1] > heights[0] > heights[2] == 0
    assert heights[0] / heights[1] == pytest.approx(3 / 7, rel=1e-3)  # heights are written to 0.1 px
    assert {"a", "b", "c", "closes", "0", "8"} <= set(texts(root))
    assert [t.text for t in bars[1].iter(f"{SVG}title")] == ["b: 7"]  # the exact value on hover


def test_horizontal_bars_keep_long_labels_readable() -> None:
    queue = "3fa85f64-5717-4562-b3fc-2c963f66afa6-and-more-text"
    root = tree(charts.bar_chart([(queue, 2), ("idle", 1)], title="q", orientation="horizontal"))
    widths = [float(b.get("width", "0")) for b in root.iter(f"{SVG}rect")]
    assert widths[0] == pytest.approx(2 * widths[1])
    assert charts.shorten(queue, 36) in texts(root)
    assert queue in ET.tostring(root, encoding="unicode")  # in full in the tooltip


def test_labels_and_titles_are_escaped() -> None:
    hostile = '<script>alert("x")</script>&'
    svg = charts.bar_chart([("<b>x</b>&", 1)], title=hostile)
    assert "<script" not in svg and "&lt;script&gt;" in svg
    root = tree(svg)
    assert "<b>x</b>&" in texts(root) and hostile in [t.text for t in root.iter(f"{SVG}title")]
    line = charts.line_chart([hostile], {hostile: [1.0], "b": [2.0]}, title=hostile)
    assert "<script" not in line and hostile in texts(tree(line))
    assert "<script" not in charts.histogram([1, 2], title=hostile, value_label=hostile)


def test_many_bars_thin_their_labels() -> None:
    items = [(f"{h:02d}:00", float(h)) for h in range(48)]
    root = tree(charts.bar_chart(items, title="hours", max_labels=12))
    shown = [t for t in texts(root) if t.endswith(":00")]
    assert 8 <= len(shown) <= 12 and shown[0] == "00:00"
    assert len(list(root.iter(f"{SVG}rect"))) == 48


def test_lines_with_two_series_and_a_legend() -> None:
    labels = ["08:00", "09:00", "10:00"]
    root = tree(
        charts.line_chart(labels, {"without": [1, 5, 9], "with": [1, 2, 1]}, title="stale", value_label="n")
    )
    lines = list(root.iter(f"{SVG}polyline"))
    assert len(lines) == 2 and lines[0].get("stroke") != lines[1].get("stroke")
    assert {"without", "with", "08:00", "10:00", "n"} <= set(texts(root))
    assert len(list(root.iter(f"{SVG}circle"))) == 6
    single = tree(charts.line_chart(["x"], {"only": [3]}, title="one point"))
    assert len(list(single.iter(f"{SVG}polyline"))) == 1
    assert "only" not in texts(single)  # no legend for one series


def test_a_series_must_match_the_labels() -> None:
    with pytest.raises(ValueError, match="3 labels"):
        charts.line_chart(["a", "b", "c"], {"s": [1, 2]}, title="t")


def test_bins() -> None:
    bins = charts.bins_for([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], bin_width=2)
    assert [(b.low, b.count) for b in bins] == [(0, 2), (2, 2), (4, 2), (6, 2), (8, 2), (10, 1)]
    assert all(b.high - b.low == 2 for b in bins)
    auto = charts.bins_for([31.5, 34, 35, 41, 47, 52, 58, 63, 90])
    assert sum(b.count for b in auto) == 9
    assert auto[0].low <= 31.5 and auto[-1].high >= 90
    widths = {round(b.high - b.low, 9) for b in auto}
    assert len(widths) == 1 and widths.pop() in (10, 20, 25)
    assert [(b.low, b.count) for b in charts.bins_for([5, 5, 5])] == [(5, 3)]
    assert charts.bins_for([]) == []
    with pytest.raises(ValueError):
        charts.bins_for([1], bin_width=0)


def test_histogram() -> None:
    root = tree(charts.histogram([1, 2, 2, 3, 3, 3], title="idle", value_label="minutes", bin_width=1))
    bars = list(root.iter(f"{SVG}rect"))
    assert len(bars) == 3
    heights = [float(b.get("height", "0")) for b in bars]
    assert heights[0] < heights[1] < heights[2]
    assert {"1", "2", "3", "4", "minutes", "count"} <= set(texts(root))


@pytest.mark.parametrize("make", ["bar", "line", "histogram"])
def test_nothing_to_show(make: str) -> None:
    svg = {
        "bar": lambda: charts.bar_chart([], title="t", empty="no closes"),
        "line": lambda: charts.line_chart([], {}, title="t", empty="no closes"),
        "histogram": lambda: charts.histogram([], title="t", empty="no closes"),
    }[make]()
    assert "no closes" in texts(tree(svg))
