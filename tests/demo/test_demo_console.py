"""`session-reaper demo --console`: after the day, `serve` and its console keep running until Ctrl-C.

One real process: the quick day, then the console on a free loopback port, driven over HTTP as a
script and a person would (bearer API, the sign-in form and its cookie), then SIGINT (what Ctrl-C
sends): exit 0. Tokens given in the environment are used and never printed.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.service.serve_harness import free_port, wait_until

OPERATOR = "demo-console-operator-token"
VIEWER = "demo-console-viewer-token"


def test_demo_console_keeps_serving_the_emulated_day_until_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENESYSCLOUD_", "SESSION_REAPER_"))}
    env |= {"SESSION_REAPER_CONSOLE_TOKEN": OPERATOR, "SESSION_REAPER_CONSOLE_VIEWER_TOKEN": VIEWER}
    env["COLUMNS"] = "200"
    command = [sys.executable, "-m", "session_reaper.commands.cli", "demo", "--quick", "--console"]
    command += ["--port", str(port), "--html", str(tmp_path / "day.html")]
    stdout = (tmp_path / "stdout").open("w+")
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=stdout, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:

        def answers() -> bool:
            assert process.poll() is None, f"the demo exited with {process.returncode}"
            try:
                return httpx.get(base + "/console/login", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(answers, "the demo's console to answer", timeout=240)
        bearer = {"Authorization": f"Bearer {OPERATOR}"}
        live = httpx.get(base + "/api/console/conversations", headers=bearer, timeout=30).json()
        assert live["conversations"], "the emulated center's open conversations are in the live view"
        assert httpx.get(base + "/api/console/conversations", timeout=30).status_code == 401
        figures = httpx.get(base + "/api/console/history?since=24h", headers=bearer, timeout=30).json()
        assert figures["figures"]["closed"] > 0, "the API's history is the day's, from the demo's ledger"

        # A person: the sign-in form, its cookie, the history page.
        with httpx.Client(base_url=base, timeout=30, follow_redirects=True) as person:
            signed_in = person.post("/console/login", data={"name": "Dana", "token": VIEWER})
            assert signed_in.status_code == 200 and "(viewer)" in signed_in.text
            history = person.get("/console/history", params={"since": "24h"})
            assert history.status_code == 200
            closed = re.search(
                r'<div class="value">([\d,]+)</div><div class="label">conversations closed', history.text
            )
            assert closed and int(closed.group(1).replace(",", "")) > 0, "the day's closes, from its ledger"
            assert "<svg" in history.text
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
    stdout.seek(0)
    printed = stdout.read()
    assert code == 0, printed
    assert f"{base}/console" in printed
    assert (
        "(from $SESSION_REAPER_CONSOLE_TOKEN)" in printed
        and OPERATOR not in printed
        and VIEWER not in printed
    )
    assert "The console stopped." in printed


def test_a_console_port_already_taken_is_refused_before_the_day(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "session_reaper.commands.cli", "demo", "--quick", "--console"]
        command += ["--port", str(port), "--html", str(tmp_path / "day.html")]
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"--port {port}: cannot listen on 127.0.0.1" in done.stderr
    assert "Traceback" not in done.stderr and "Dry run" not in done.stdout  # said first, the day never ran
    assert not (tmp_path / "day.html").exists()
