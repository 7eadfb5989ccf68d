"""The SVG chart frame shared by every chart: its look, scales and ticks, axes and labels, escaping.

Every piece of text that reaches the markup goes through `esc` (`html.escape`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
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


def svg_line(x1: float, y1: float, x2: float, y2: float, stroke: str = AXIS) -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}"/>'


def svg_text(x: float, y: float, content: str, anchor: str = "start", extra: str = "") -> str:
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


def stride(count: int, room: int) -> int:
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
        at_most = stride(count, max_labels)
        level = max(at_most, math.ceil((CHAR * longest + 10) / max(slot, 1e-9)))
        slanted = max(at_most, math.ceil(LINE / math.sin(math.radians(SLANT)) / max(slot, 1e-9)))
        if level <= slanted:
            return XLabels(level, False, LINE + 4, 0.0)
        run = CHAR * longest * math.cos(math.radians(SLANT))
        return XLabels(slanted, True, LINE + CHAR * longest * math.sin(math.radians(SLANT)), run)


@dataclass(frozen=True, slots=True)
class Frame:
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


def open_chart(frame: Frame, title: str) -> list[str]:
    label = esc(title)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {frame.width} {frame.height}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet" role="img" aria-label="{label}" '
        f'font-family="{esc(FONT)}" font-size="12" fill="{TEXT}">',
        f"<title>{label}</title>",
    ]


def empty_chart(frame: Frame, parts: list[str], message: str) -> str:
    parts.append(
        f'<text x="{frame.width / 2:.1f}" y="{frame.height / 2:.1f}" text-anchor="middle" '
        f'fill="{AXIS}" font-size="14">{esc(message)}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def value_axis(frame: Frame, parts: list[str], top: float, label: str, *, horizontal: bool) -> None:
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


def scale_top(values: Sequence[float]) -> float:
    return ticks(max([0.0, *values]))[-1]


def category_label(frame: Frame, parts: list[str], x: float, label: str, *, slanted: bool) -> None:
    y = frame.top + frame.plot_height + 16
    text = esc(shorten(label, LABEL_CHARS))
    if slanted:
        parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="end" transform="rotate(-{SLANT} {x:.1f} {y:.1f})">'
            f"{text}</text>"
        )
    else:
        parts.append(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle">{text}</text>')


def axes(frame: Frame, parts: list[str], *, horizontal: bool) -> None:
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
