"""Small, dependency-free SVG charts for the HTML report: bars, lines, histograms.

Each function returns one `<svg>` element as a string, ready to be inlined in an HTML page: no
script, no external asset, no font file. Every piece of text that reaches the markup goes through
`html.escape` (chart_frame.esc), so labels may come from anywhere (rule names, queue ids, series
names). The frame every chart shares — look, scales, axes, labels — is chart_frame.py.

Charts scale with their container (`viewBox` + `width="100%"`); hovering a bar or a point shows its
exact value through SVG `<title>` tooltips, which browsers render without JavaScript.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from session_reaper.commands.report.chart_frame import (
    AXIS,
    CHAR,
    MAX_BAR,
    MIN_BINS,
    PALETTE,
    SLANT,
    Frame,
    Orientation,
    XLabels,
    axes,
    category_label,
    empty_chart,
    esc,
    fmt,
    nice_ceiling,
    open_chart,
    scale_top,
    shorten,
    stride,
    ticks,
    value_axis,
)

# The frame's scales and look, re-exported: the report and its tests read them as charts.X.
__all__ = [
    "CHAR",
    "PALETTE",
    "SLANT",
    "Bin",
    "bar_chart",
    "bins_for",
    "fmt",
    "histogram",
    "line_chart",
    "nice_ceiling",
    "shorten",
    "ticks",
]


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    value_label: str = "",
    orientation: Orientation = "vertical",
    color: str = PALETTE[0],
    width: int = 720,
    height: int | None = None,
    max_labels: int = 24,
    empty: str = "nothing to show",
) -> str:
    """One bar per (label, value). Horizontal bars suit long labels (queue ids); vertical ones, time."""
    horizontal = orientation == "horizontal"
    if horizontal:
        longest = max((len(label) for label, _ in items), default=4)
        left = min(260, 14 + 7 * min(longest, 36))
        frame = Frame(width, height or max(160, 46 + 30 * len(items)), left, 40, 12, 34)
        below = XLabels(1, False, 0.0, 0.0)
    else:
        # Bars are centred in equal slots: the labels' spacing is the slot, as for len+1 points.
        below = XLabels.plan([label for label, _ in items] + [""], width - 58 - 16, max_labels)
        left = max(58, math.ceil(below.reach + 4))
        frame = Frame(width, height or 300, left, 16, 16, max(34, math.ceil(below.depth + 8)))
    parts = open_chart(frame, title)
    if not items:
        return empty_chart(frame, parts, empty)
    top = scale_top([v for _, v in items])
    value_axis(frame, parts, top, value_label, horizontal=horizontal)
    slot = (frame.plot_height if horizontal else frame.plot_width) / len(items)
    thickness = min(MAX_BAR, max(1.0, slot * (0.7 if slot > 6 else 0.9)))
    show_values = slot >= (18 if horizontal else 26)
    for index, (label, value) in enumerate(items):
        share = max(0.0, value) / top
        tip = f"<title>{esc(label)}: {esc(fmt(value))}</title>"
        if horizontal:
            y = frame.top + index * slot + (slot - thickness) / 2
            length = share * frame.plot_width
            parts.append(
                f'<rect x="{frame.left}" y="{y:.1f}" width="{length:.1f}" height="{thickness:.1f}" '
                f'fill="{esc(color)}" rx="2">{tip}</rect>'
            )
            parts.append(
                f'<text x="{frame.left - 6}" y="{y + thickness / 2 + 4:.1f}" text-anchor="end">'
                f"{esc(shorten(label, 36))}</text>"
            )
            if show_values:
                parts.append(
                    f'<text x="{frame.left + length + 4:.1f}" y="{y + thickness / 2 + 4:.1f}">'
                    f"{esc(fmt(value))}</text>"
                )
        else:
            x = frame.left + index * slot + (slot - thickness) / 2
            length = share * frame.plot_height
            y = frame.top + frame.plot_height - length
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{thickness:.1f}" height="{length:.1f}" '
                f'fill="{esc(color)}" rx="1">{tip}</rect>'
            )
            if show_values and value:
                parts.append(
                    f'<text x="{x + thickness / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">'
                    f"{esc(fmt(value))}</text>"
                )
            if index % below.every == 0:
                category_label(frame, parts, x + thickness / 2, label, slanted=below.slanted)
    axes(frame, parts, horizontal=horizontal)
    parts.append("</svg>")
    return "\n".join(parts)


def line_chart(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    value_label: str = "",
    width: int = 720,
    height: int = 300,
    max_labels: int = 24,
    colors: Sequence[str] = PALETTE,
    empty: str = "nothing to show",
) -> str:
    """One line per series over shared x labels (each series has one value per label), with a legend."""
    longest_name = max((len(shorten(name, 32)) for name in series), default=0)
    columns = max(1, min(4, int((width - 78) // (CHAR * longest_name + 30))))
    legend_rows = math.ceil(len(series) / columns) if len(series) > 1 else 0
    below = XLabels.plan(labels, width - 58 - 20, max_labels)
    left = max(58, math.ceil(below.reach + 4))
    frame = Frame(
        width, height + 20 * legend_rows, left, 20, 16 + 20 * legend_rows, max(34, math.ceil(below.depth + 8))
    )
    parts = open_chart(frame, title)
    for name, values in series.items():
        if len(values) != len(labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(labels)} labels")
    if not labels or not series:
        return empty_chart(frame, parts, empty)
    top = scale_top([v for values in series.values() for v in values])
    value_axis(frame, parts, top, value_label, horizontal=False)
    count = len(labels)
    step = frame.plot_width / (count - 1) if count > 1 else 0.0

    def x_at(i: int) -> float:
        return frame.left + (i * step if count > 1 else frame.plot_width / 2)

    def y_at(v: float) -> float:
        return frame.top + frame.plot_height - max(0.0, v) / top * frame.plot_height

    for i, label in enumerate(labels):
        if i % below.every == 0:
            category_label(frame, parts, x_at(i), label, slanted=below.slanted)
    show_points = count <= 60
    for index, (name, values) in enumerate(series.items()):
        color = esc(colors[index % len(colors)])
        points = " ".join(f"{x_at(i):.1f},{y_at(v):.1f}" for i, v in enumerate(values))
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2.2" '
            f'stroke-linejoin="round" stroke-linecap="round"><title>{esc(name)}</title></polyline>'
        )
        if show_points:
            for i, v in enumerate(values):
                parts.append(
                    f'<circle cx="{x_at(i):.1f}" cy="{y_at(v):.1f}" r="3" fill="{color}">'
                    f"<title>{esc(name)} · {esc(labels[i])}: {esc(fmt(v))}</title></circle>"
                )
    if legend_rows:
        for index, name in enumerate(series):
            row, col = divmod(index, columns)
            x = frame.left + col * (frame.plot_width / columns)
            y = 14 + row * 20
            color = esc(colors[index % len(colors)])
            parts.append(f'<rect x="{x:.1f}" y="{y - 9}" width="14" height="10" fill="{color}" rx="2"/>')
            parts.append(f'<text x="{x + 20:.1f}" y="{y}">{esc(shorten(name, 32))}</text>')
    axes(frame, parts, horizontal=False)
    parts.append("</svg>")
    return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class Bin:
    low: float
    high: float
    count: int


def bins_for(
    values: Sequence[float], bins: int | None = None, *, bin_width: float | None = None
) -> list[Bin]:
    """Equal-width, half-open bins [low, high) from a round lower edge (a whole number of widths).

    Without `bins` or `bin_width`: a round width giving about sqrt(n) bins (between MIN_BINS and 30).
    """
    data = [v for v in values if math.isfinite(v)]
    if not data:
        return []
    low, high = min(data), max(data)
    if bin_width is None:
        wanted = bins or min(30, max(MIN_BINS, round(math.sqrt(len(data)))))
        spread = high - low
        bin_width = nice_ceiling(spread / wanted) if spread > 0 else 1.0
    if bin_width <= 0:
        raise ValueError("bin_width must be positive")
    start = math.floor(low / bin_width) * bin_width
    count = math.floor((high - start) / bin_width + 1e-9) + 1
    counts = [0] * count
    for v in data:
        counts[min(count - 1, int((v - start) // bin_width))] += 1
    return [Bin(start + i * bin_width, start + (i + 1) * bin_width, c) for i, c in enumerate(counts)]


def histogram(
    values: Sequence[float],
    *,
    title: str,
    value_label: str = "",
    count_label: str = "count",
    bins: int | None = None,
    bin_width: float | None = None,
    color: str = PALETTE[2],
    width: int = 720,
    height: int = 300,
    empty: str = "nothing to show",
) -> str:
    """The distribution of `values`: adjacent bars over a numeric axis labelled at the bin edges."""
    frame = Frame(width, height, 58, 20, 16, 52)
    parts = open_chart(frame, title)
    found = bins_for(values, bins, bin_width=bin_width)
    if not found:
        return empty_chart(frame, parts, empty)
    top = scale_top([b.count for b in found])
    value_axis(frame, parts, top, count_label, horizontal=False)
    slot = frame.plot_width / len(found)
    widest = max(len(fmt(found[0].low + i * (found[0].high - found[0].low))) for i in range(len(found) + 1))
    edge_every = max(stride(len(found) + 1, 12), math.ceil((CHAR * widest + 10) / slot))
    for index, item in enumerate(found):
        x = frame.left + index * slot
        length = item.count / top * frame.plot_height
        y = frame.top + frame.plot_height - length
        parts.append(
            f'<rect x="{x + 0.5:.1f}" y="{y:.1f}" width="{max(0.5, slot - 1):.1f}" height="{length:.1f}" '
            f'fill="{esc(color)}"><title>{esc(fmt(item.low))}–{esc(fmt(item.high))}: '
            f"{item.count}</title></rect>"
        )
    base = frame.top + frame.plot_height
    for index in range(len(found) + 1):
        if index % edge_every == 0:
            edge = found[0].low + index * (found[0].high - found[0].low)
            x = frame.left + index * slot
            parts.append(
                f'<line x1="{x:.1f}" y1="{base:.1f}" x2="{x:.1f}" y2="{base + 4:.1f}" stroke="{AXIS}"/>'
            )
            parts.append(
                f'<text x="{x:.1f}" y="{base + 17:.1f}" text-anchor="middle">{esc(fmt(edge))}</text>'
            )
    if value_label:
        parts.append(
            f'<text x="{frame.left + frame.plot_width / 2:.1f}" y="{frame.height - 6}" text-anchor="middle" '
            f'fill="{AXIS}">{esc(value_label)}</text>'
        )
    axes(frame, parts, horizontal=False)
    parts.append("</svg>")
    return "\n".join(parts)
