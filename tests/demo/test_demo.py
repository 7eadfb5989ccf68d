"""`make demo` = `session-reaper demo`: a real process, no configuration, no network; output and report.

The demo runs once per session (see conftest). The headless-Chromium test renders the report it wrote and
checks the screenshot for its charts; without Chromium it skips, unless REQUIRE_CHROMIUM=1 (CI), where it
fails (`scripts/ensure-chromium` installs it).
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from genesys_emulator.server import build_world
from session_reaper.commands.demo.world import GuestsAndAgents, stale_sessions
from session_reaper.commands.report.figures import FIGURE_LABELS, FIGURES
from tests.demo.conftest import DemoRun
from tests.environment import require_chromium, screenshot

WIDTH, HEIGHT = 1200, 3600  # tall enough for the whole report
# The charts' series colours (session_reaper.commands.report.charts.PALETTE) that the report's charts use
# most.
BLUE, ORANGE, GREEN = (0x2F, 0x6F, 0xB0), (0xD9, 0x82, 0x2B), (0x3A, 0x9A, 0x5B)
CHART_TITLES = (  # every one drawn from the ledger, as `report --html` draws it
    "Acted on, by rule",
    "Closes by hour (UTC)",
    "Closes by rule over time",
    "Closes by queue",
    "Idle time before close",
    "Reaction delay: how long past the rule's threshold",
    "API requests per close, by hour",
)


def number(text: str) -> int:
    return int(text.replace(",", ""))


def row(output: str, label: str) -> str:
    """The value of a two-column summary row: `│ label │ value │`."""
    found = re.search(rf"{re.escape(label)}\s*│\s*([^│]+?)\s*│", output)
    assert found, f"no summary row {label!r} in:\n{output}"
    return found.group(1)


# --------------------------------------------------------------------------------------- the process


def test_the_demo_runs_without_configuration_and_tells_the_whole_story(demo_run: DemoRun) -> None:
    out = demo_run.stdout
    assert demo_run.code == 0, f"exit {demo_run.code}\nstdout:\n{out}\nstderr:\n{demo_run.stderr}"
    # The dry run: a table of what would be closed and why, counts by rule, and what is left alone.
    assert "Dry run: what the reaper would do, and why (nothing was changed)" in out
    for rule in ("idle", "customer-left", "queue-abandoned", "flow-stuck", "orphaned", "acw-stuck"):
        assert re.search(rf"│ {re.escape(rule)}\s+│\s+\d+ │", out), f"no count for rule {rule}"
    assert re.search(r"and \d+ more", out)  # the table is kept readable
    assert "exempt (reaper.exempt = true)" in out
    assert "left to the platform's own inactivity timer" in out
    assert "wrote nothing" in out
    # The apply, the day, and the summary.
    assert "Applied: what the reaper did" in out
    assert "A working day: 08:00 → 10:00 (virtual)" in out
    assert "Acted on by rule" in out and "Summary (every applied sweep)" in out
    assert "the platform's real limit is 300/min" in out
    assert number(row(out, FIGURE_LABELS["closed"])) > 0
    assert number(row(out, FIGURE_LABELS["wrappedUp"])) > 0
    assert number(row(out, FIGURE_LABELS["tornDown"])) > 0
    assert number(row(out, FIGURE_LABELS["failed"])) == 0
    assert number(row(out, FIGURE_LABELS["apiRequests"])) > 0
    assert row(out, "wall time").endswith(" s")
    # Nobody's chat was closed while they were still in it: no guest or agent found theirs gone.
    assert int(row(out, "guest/agent actions refused: chat already closed")) == 0
    stale = re.search(r"(\d+) stale sessions are open with the reaper, (\d+) without it", out)
    assert stale, out
    assert int(stale.group(1)) < int(stale.group(2))
    assert f"Wrote {demo_run.html}" in out.replace("\n", "")
    # The events act: serve listens, and a chat that goes quiet is closed seconds after its threshold
    # by the timer its events armed, with no sweep; the other chats are not read at all.
    flat = " ".join(out.split())
    events = re.search(r"Closed (\d+\.\d) s after the threshold passed, with (\d+) platform requests", flat)
    assert events, out
    # closed by the armed timer, not by the next reconciliation (10m): how fast is benchmarks' business
    assert float(events.group(1)) < 60
    assert int(events.group(2)) <= 8  # re-check, annotate, closing text, disconnect, verify reads
    assert re.search(r"open conversations were read 0 times meanwhile", flat), out


def test_the_report_has_a_chart_per_figure(demo_run: DemoRun) -> None:
    assert demo_run.html.is_file()
    page = demo_run.html.read_text(encoding="utf-8")
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    svgs = re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL)
    assert len(svgs) >= len(CHART_TITLES)
    for title in CHART_TITLES:
        assert f"<h2>{title}</h2>" in page.replace("&#x27;", "'"), title
    # Nothing only the demo could draw: a world never swept is not in the ledger, so not on the page.
    assert "without the reaper" not in page


def test_the_summary_and_the_page_tell_the_same_figures(demo_run: DemoRun) -> None:
    page = demo_run.html.read_text(encoding="utf-8")
    cards = dict(
        (label.replace("&amp;", "&"), value)
        for value, label in re.findall(
            r'<div class="value">([^<]*)</div><div class="label">([^<]*)</div>', page
        )
    )
    for _, label in FIGURES:
        assert row(demo_run.stdout, label) == cards[label], label


def test_demo_help_names_every_flag() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "session_reaper.commands.cli", "demo", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "160"},
    )
    assert done.returncode == 0, done.stderr
    for flag in ("--html", "--seed", "--quick", "session-reaper-demo.html"):
        assert flag in done.stdout


def test_an_html_path_in_no_directory_is_refused_before_the_demo_runs(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "x.html"
    done = subprocess.run(
        [sys.executable, "-m", "session_reaper.commands.cli", "demo", "--quick", "--html", str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "160"},
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no such directory" in done.stderr
    assert "Dry run" not in done.stdout


# ---------------------------------------------------------------------------------- the demo's pieces


def test_stale_means_in_scope_not_ended_and_silent_for_30_minutes() -> None:
    world = build_world()
    world.clock.set(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))

    def chat(silent: str, channel: str = "webmessaging", state: str = "connected") -> str:
        customer = {"purpose": "customer", "state": state, "messages": [{"ago": silent}]}
        if state == "disconnected":
            customer["endedAgo"] = silent
        agent = {"purpose": "agent", "state": state, "messages": [{"ago": silent}]}
        if state == "disconnected":
            agent["endedAgo"] = silent
        spec = {"messageType": channel, "participants": [customer, agent]}
        return world.create_conversation(spec).id

    chat("45m")  # stale
    chat("29m")  # not yet
    chat("45m", channel="sms")  # out of scope
    chat("45m", state="disconnected")  # ended
    assert stale_sessions(world, ["webmessaging"]) == 1
    assert stale_sessions(world, ["webmessaging", "sms"]) == 2
    world.clock.advance(timedelta(minutes=2).total_seconds())
    assert stale_sessions(world, ["webmessaging"]) == 2


def test_traffic_that_finds_its_chat_closed_is_counted_not_fatal() -> None:
    world = build_world()
    spec = {
        "participants": [
            {"purpose": "customer", "messages": [{"ago": "1m"}]},
            {"purpose": "agent", "messages": [{"ago": "1m"}]},
        ]
    }
    open_id = world.create_conversation(spec).id
    closed_id = world.create_conversation(spec).id
    world.teardown(closed_id)
    hands = GuestsAndAgents(world)
    hands.message(open_id, "customer", "still here")
    hands.message(closed_id, "customer", "hello?")
    assert hands.join(closed_id, {"purpose": "agent"}) == ""
    assert hands.refused == {closed_id}


# ------------------------------------------------------------------------------------ the screenshot


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk comes first
    return width, height


def chart_regions(image: object, band: int = 40, gap: int = 2, least: int = 150) -> list[tuple[int, int]]:
    """Vertical extents (pixels) where the charts' series colours are drawn, split by `gap` blank bands."""
    from PIL import Image

    assert isinstance(image, Image.Image)
    rgb = image.convert("RGB")
    width, height = rgb.size
    colored: list[bool] = []
    for top in range(0, height, band):
        colors = rgb.crop((0, top, width, min(height, top + band))).getcolors(width * band) or []
        count = sum(n for n, c in colors if any(_near(c, p) for p in (BLUE, ORANGE, GREEN)))
        colored.append(count >= least)
    regions: list[tuple[int, int]] = []
    start: int | None = None
    blank = 0
    for index, hit in enumerate([*colored, *([False] * gap)]):
        if hit:
            start = index if start is None else start
            blank = 0
        elif start is not None:
            blank += 1
            if blank >= gap:
                regions.append((start * band, (index - blank + 1) * band))
                start, blank = None, 0
    return regions


def _near(color: object, target: tuple[int, int, int], tolerance: int = 12) -> bool:
    """Whether a colour of `Image.getcolors` (an RGB tuple) is within `tolerance` of `target`."""
    if not isinstance(color, tuple):
        return False
    return all(abs(int(a) - b) <= tolerance for a, b in zip(color[:3], target, strict=True))


def color_count(image: object, target: tuple[int, int, int]) -> int:
    from PIL import Image

    assert isinstance(image, Image.Image)
    rgb = image.convert("RGB")
    colors = rgb.getcolors(rgb.size[0] * rgb.size[1]) or []
    return sum(n for n, c in colors if _near(c, target))


def test_headless_chromium_shows_every_chart(demo_run: DemoRun, tmp_path: Path) -> None:
    require_chromium()
    image_module = pytest.importorskip("PIL.Image")
    assert demo_run.html.is_file(), demo_run.stdout
    png = tmp_path / "demo.png"
    screenshot(demo_run.html, png, profile=tmp_path / "profile", width=WIDTH, height=HEIGHT, timeout=120)
    assert png_size(png.read_bytes()) == (WIDTH, HEIGHT)
    with image_module.open(png) as image:
        # Each series colour is drawn in earnest: bars and lines, not a stray pixel.
        for name, color in (("blue", BLUE), ("orange", ORANGE), ("green", GREEN)):
            assert color_count(image, color) > 500, f"hardly any {name} in the screenshot"
        regions = chart_regions(image)
    # Rule and hour side by side, closes over time, queue, idle and delay side by side, cost.
    assert len(regions) >= 5, f"chart regions drawn: {regions}"
    assert regions[-1][0] > HEIGHT // 2, f"the lower charts are blank: {regions}"
