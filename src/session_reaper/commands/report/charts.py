"""Small, dependency-free SVG charts for the HTML report: bars, lines, histograms.

Each function returns one `<svg>` element as a string, ready to be inlined in an HTML page: no
script, no external asset, no font file. Every piece of text that reaches the markup goes through
`html.escape`, so labels may come from anywhere (rule names, queue ids, series names).

Charts scale with their container (`viewBox` + `width="100%"`); hovering a bar or a point shows its
exact value through SVG `<title>` tooltips, which browsers render without JavaScript.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

PALETTE = ("#2f6fb0", "#d9822b", "#3a9a5b", "#b8455a", "#7a5cb8", "#8a8a8a", "#c2a532", "#2aa1a6")
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
TEXT = "#333"
GRID = "#e3e3e3"
AXIS = "#999"

Orientation = Literal["vertical", "horizontal"]
MIN_BINS = 5  # a histogram of a handful of values still shows a shape
MAX_BAR = 32.0  # a bar never gets thicker than this, however few there are
CHAR = 6.8  # the width of one character at font-size 12, generously (system fonts differ)
LINE = 15.0  # the height of a line of text at font-size 12, with a little air
SLANT = 45  # degrees: how far crowded category labels are turned
LABEL_CHARS = 18  # a category label longer than this is shortened with an ellipsis


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str = AXIS) -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}"/>'


def _text(x: float, y: float, content: str, anchor: str = "start", extra: str = "") -> str:
    """A text element; `content` is escaped here."""
    more = f" {extra}" if extra else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{more}>{esc(content)}</text>'


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten that is >= value (1 for nothing)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * power + 1e-12 * power:
            return step * power
    return 10.0 * power  # pragma: no cover - the loop always returns


def ticks(maximum: float, count: int = 5) -> list[float]:
    """Evenly spaced, round axis ticks from 0 to at least `maximum` (whole numbers when it is small)."""
    step = nice_ceiling(max(maximum, 0.0) / count) if maximum > 0 else 1.0
    if maximum >= 1 and step < 1:
        step = 1.0
    n = max(1, math.ceil(maximum / step - 1e-9)) if maximum > 0 else 1
    return [round(i * step, 10) for i in range(n + 1)]


def fmt(value: float) -> str:
    """A number for a label: integers without a decimal point, others with up to two decimals."""
    if math.isclose(value, round(value), abs_tol=1e-9):
        return f"{round(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def shorten(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: max(1, limit - 1)] + "…"


def _every(count: int, room: int) -> int:
    """Show one label in this many so that at most `room` labels fit."""
    return max(1, math.ceil(count / max(1, room)))


@dataclass(frozen=True, slots=True)
class XLabels:
    """How the category labels under a chart are drawn so that no two of them overlap."""

    every: int  # one label in this many is drawn
    slanted: bool
    depth: float  # how far below the axis the labels reach
    reach: float  # how far left of its tick a slanted label reaches

    @staticmethod
    def plan(labels: Sequence[str], plot_width: float, max_labels: int) -> XLabels:
        """Level labels when they fit side by side (thinned if need be), else slanted and thinned.

        Level labels need their own width between ticks; slanted ones only a line's height divided by
        the sine of the slant. Whichever draws more labels wins; at most `max_labels` are drawn.
        """
        count = len(labels)
        longest = max((len(shorten(label, LABEL_CHARS)) for label in labels), default=0)
        slot = plot_width / max(1, count - 1 if count > 1 else 1)
        at_most = _every(count, max_labels)
        level = max(at_most, math.ceil((CHAR * longest + 10) / max(slot, 1e-9)))
        slanted = max(at_most, math.ceil(LINE / math.sin(math.radians(SLANT)) / max(slot, 1e-9)))
        if level <= slanted:
            return XLabels(level, False, LINE + 4, 0.0)
        run = CHAR * longest * math.cos(math.radians(SLANT))
        return XLabels(slanted, True, LINE + CHAR * longest * math.sin(math.radians(SLANT)), run)


@dataclass(frozen=True, slots=True)
class _Frame:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int

    @property
    def plot_width(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> float:
        return self.height - self.top - self.bottom


def _open(frame: _Frame, title: str) -> list[str]:
    label = esc(title)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {frame.width} {frame.height}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet" role="img" aria-label="{label}" '
        f'font-family="{esc(FONT)}" font-size="12" fill="{TEXT}">',
        f"<title>{label}</title>",
    ]


def _empty(frame: _Frame, parts: list[str], message: str) -> str:
    parts.append(
        f'<text x="{frame.width / 2:.1f}" y="{frame.height / 2:.1f}" text-anchor="middle" '
        f'fill="{AXIS}" font-size="14">{esc(message)}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def _value_axis(frame: _Frame, parts: list[str], top: float, label: str, *, horizontal: bool) -> None:
    """Grid lines and tick labels of the value axis (y for vertical charts, x for horizontal ones)."""
    marks = ticks(top)
    high = marks[-1]
    for mark in marks:
        share = mark / high if high else 0.0
        if horizontal:
            x = frame.left + share * frame.plot_width
            parts.append(
                f'<line x1="{x:.1f}" y1="{frame.top}" x2="{x:.1f}" y2="{frame.top + frame.plot_height:.1f}" '
                f'stroke="{GRID}"/>'
            )
            parts.append(
                f'<text x="{x:.1f}" y="{frame.top + frame.plot_height + 16:.1f}" '
                f'text-anchor="middle">{esc(fmt(mark))}</text>'
            )
        else:
            y = frame.top + frame.plot_height - share * frame.plot_height
            parts.append(
                f'<line x1="{frame.left}" y1="{y:.1f}" x2="{frame.left + frame.plot_width:.1f}" y2="{y:.1f}" '
                f'stroke="{GRID}"/>'
            )
            parts.append(
                f'<text x="{frame.left - 6}" y="{y + 4:.1f}" text-anchor="end">{esc(fmt(mark))}</text>'
            )
    if label:
        if horizontal:
            parts.append(
                f'<text x="{frame.left + frame.plot_width / 2:.1f}" y="{frame.height - 4}" '
                f'text-anchor="middle" fill="{AXIS}">{esc(label)}</text>'
            )
        else:
            cy = frame.top + frame.plot_height / 2
            parts.append(
                f'<text x="12" y="{cy:.1f}" text-anchor="middle" fill="{AXIS}" '
                f'transform="rotate(-90 12 {cy:.1f})">{esc(label)}</text>'
            )


def _scale_top(values: Sequence[float]) -> float:
    return ticks(max([0.0, *values]))[-1]


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
        frame = _Frame(width, height or max(160, 46 + 30 * len(items)), left, 40, 12, 34)
        below = XLabels(1, False, 0.0, 0.0)
    else:
        # Bars are centred in equal slots: the labels' spacing is the slot, as for len+1 points.
        below = XLabels.plan([label for label, _ in items] + [""], width - 58 - 16, max_labels)
        left = max(58, math.ceil(below.reach + 4))
        frame = _Frame(width, height or 300, left, 16, 16, max(34, math.ceil(below.depth + 8)))
    parts = _open(frame, title)
    if not items:
        return _empty(frame, parts, empty)
    top = _scale_top([v for _, v in items])
    _value_axis(frame, parts, top, value_label, horizontal=horizontal)
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
                _category_label(frame, parts, x + thickness / 2, label, slanted=below.slanted)
    _axes(frame, parts, horizontal=horizontal)
    parts.append("</svg>")
    return "\n".join(parts)


def _category_label(frame: _Frame, parts: list[str], x: float, label: str, *, slanted: bool) -> None:
    y = frame.top + frame.plot_height + 16
    text = esc(shorten(label, LABEL_CHARS))
    if slanted:
        parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="end" transform="rotate(-{SLANT} {x:.1f} {y:.1f})">'
            f"{text}</text>"
        )
    else:
        parts.append(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle">{text}</text>')


def _axes(frame: _Frame, parts: list[str], *, horizontal: bool) -> None:
    """The zero line of the values (left for horizontal bars) and, for vertical charts, the y axis."""
    base_y = frame.top + frame.plot_height
    parts.append(
        f'<line x1="{frame.left}" y1="{frame.top}" x2="{frame.left}" y2="{base_y:.1f}" stroke="{AXIS}"/>'
    )
    if not horizontal:
        right = frame.left + frame.plot_width
        parts.append(
            f'<line x1="{frame.left}" y1="{base_y:.1f}" x2="{right:.1f}" y2="{base_y:.1f}" stroke="{AXIS}"/>'
        )


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
    frame = _Frame(
        width, height + 20 * legend_rows, left, 20, 16 + 20 * legend_rows, max(34, math.ceil(below.depth + 8))
    )
    parts = _open(frame, title)
    for name, values in series.items():
        if len(values) != len(labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(labels)} labels")
    if not labels or not series:
        return _empty(frame, parts, empty)
    top = _scale_top([v for values in series.values() for v in values])
    _value_axis(frame, parts, top, value_label, horizontal=False)
    count = len(labels)
    step = frame.plot_width / (count - 1) if count > 1 else 0.0

    def x_at(i: int) -> float:
        return frame.left + (i * step if count > 1 else frame.plot_width / 2)

    def y_at(v: float) -> float:
        return frame.top + frame.plot_height - max(0.0, v) / top * frame.plot_height

    for i, label in enumerate(labels):
        if i % below.every == 0:
            _category_label(frame, parts, x_at(i), label, slanted=below.slanted)
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
    _axes(frame, parts, horizontal=False)
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
    frame = _Frame(width, height, 58, 20, 16, 52)
    parts = _open(frame, title)
    found = bins_for(values, bins, bin_width=bin_width)
    if not found:
        return _empty(frame, parts, empty)
    top = _scale_top([b.count for b in found])
    _value_axis(frame, parts, top, count_label, horizontal=False)
    slot = frame.plot_width / len(found)
    widest = max(len(fmt(found[0].low + i * (found[0].high - found[0].low))) for i in range(len(found) + 1))
    edge_every = max(_every(len(found) + 1, 12), math.ceil((CHAR * widest + 10) / slot))
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
    _axes(frame, parts, horizontal=False)
    parts.append("</svg>")
    return "\n".join(parts)
