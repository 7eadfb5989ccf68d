"""A real emulated working day, then `session-reaper report --html` from its ledger, then a screenshot.

    .venv/bin/python scripts/report-day.py [OUT_DIR]     # default: docs/img

The demo's organization and traffic (`session-reaper demo`: a backlog sweep at 08:00 UTC, then a sweep
every 10 minutes of virtual time until 18:00) write a SQLite ledger file; the `report` command, run as
a real process exactly as an operator would, reads that ledger and writes report-day.html; headless
Chromium (/usr/bin/chromium) screenshots it into report-day.png, reduced to a palette PNG (< 500 kB).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image
from rich.console import Console

from session_reaper.commands.demo import DemoOptions, run_demo

CHROMIUM = "/usr/bin/chromium"
WIDTH = 1200


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        ledger = f"sqlite:///{folder / 'day.db'}"
        run_demo(Console(stderr=True), DemoOptions(html=folder / "demo.html", ledger=ledger))
        config = folder / "session-reaper.toml"
        config.write_text(f'[sweep]\nledger = "{ledger}"\n', encoding="utf-8")
        page = out / "report-day.html"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GENESYSCLOUD_", "SESSION_REAPER_"))}
        report = [
            sys.executable,
            "-m",
            "session_reaper.commands.cli",
            "report",
            "--since",
            "2d",
            "--config",
            str(config),
        ]
        subprocess.run([*report, "--html", str(page)], check=True, env=env)
        shot = folder / "shot.png"
        subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                "--disable-background-networking",
                f"--user-data-dir={folder / 'profile'}",
                f"--screenshot={shot}",
                f"--window-size={WIDTH},{page_height(page)}",
                page.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        with Image.open(shot) as image:
            image.convert("RGB").quantize(colors=64).save(out / "report-day.png", optimize=True)
    print(f"wrote {out / 'report-day.html'} and {out / 'report-day.png'}")
    return 0


def page_height(page: Path) -> int:
    """The window's height: the whole page of a day's report at 1200 px wide (REPORT_DAY_HEIGHT overrides)."""
    return int(os.environ.get("REPORT_DAY_HEIGHT", "3010"))


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/img")))
