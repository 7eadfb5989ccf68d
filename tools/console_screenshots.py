"""Screenshots of the console for docs/console.md: `python -m tools.console_screenshots` (run by hand).

Runs `session-reaper demo --quick --console` as a real process on a free loopback port with two
tokens of its own, signs in with headless Chromium (Playwright, /usr/bin/chromium) and photographs the
sign-in page, the live view, one conversation's explain view and the history, into docs/img/console-*.png.
Stops the demo with SIGINT (what Ctrl-C sends) and fails loudly if any step does not show up.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "img"
CHROMIUM = "/usr/bin/chromium"
START_TIMEOUT = 240.0  # seconds for the quick demo's day before the console answers
WIDTH, HEIGHT = 1440, 960
PENDING_WAIT_MS = 120_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the demo exited with {process.returncode} before the console answered")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the console did not answer at {url} within {START_TIMEOUT:.0f} s")


def photograph(base: str, operator: str, images: Path) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    written: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        page.set_default_timeout(30_000)

        def shot(name: str, *, full: bool = False) -> None:
            path = images / f"console-{name}.png"
            page.screenshot(path=str(path), full_page=full)
            written.append(path)

        page.goto(base + "/console/login")
        page.get_by_label("Your name").fill("Dana Supervisor")
        shot("login")
        page.get_by_label("Console token").fill(operator)
        page.get_by_role("button", name="Sign in").click()
        live = page.locator("#live tbody tr")
        expect(live.first).to_be_visible()
        try:  # the demo's idle closes wait for approval: show one (traffic runs at 10x)
            expect(page.locator("#pending tbody tr").first).to_be_visible(timeout=PENDING_WAIT_MS)
        except AssertionError:
            print(f"no pending decision within {PENDING_WAIT_MS / 1000:.0f} s: the picture shows none")
        page.wait_for_timeout(1500)  # let a countdown tick once: the picture shows a running clock
        shot("live")
        # The explain view of a decision waiting for approval: its rule, its reason and its exact calls.
        waiting = page.locator("#pending tbody tr td.id a")
        (waiting.first if waiting.count() else live.first.locator("td.id a")).click()
        expect(page.get_by_role("heading", name="The exact calls it would make")).to_be_visible()
        shot("explain", full=True)
        page.goto(base + "/console/history?since=24h")
        expect(page.get_by_role("heading", name="Acted on, by rule").first).to_be_visible()
        shot("history", full=True)
        browser.close()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=IMAGES, help="folder for the PNGs (docs/img)")
    args = parser.parse_args()
    port = _free_port()
    operator, viewer = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    env = {
        **os.environ,
        "SESSION_REAPER_CONSOLE_TOKEN": operator,
        "SESSION_REAPER_CONSOLE_VIEWER_TOKEN": viewer,
    }
    with tempfile.TemporaryDirectory() as folder:
        command = [
            sys.executable,
            "-m",
            "session_reaper.commands.cli",
            "demo",
            "--quick",
            "--console",
            "--port",
            str(port),
            "--html",
            str(Path(folder) / "demo.html"),
        ]
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, cwd=folder)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_for(base + "/console/login", process)
            args.out.mkdir(parents=True, exist_ok=True)
            for path in photograph(base, operator, args.out):
                print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
