"""One real `session-reaper demo --quick` process per test session, shared by every pytest-xdist worker.

The demo takes seconds, so it runs once: the first worker to take the lock runs it into a directory
shared by the workers (the base temp directory's parent, as pytest-xdist recommends) and the others
read its result.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class DemoRun:
    code: int
    stdout: str
    stderr: str
    html: Path
    seconds: float


def run_demo(workdir: Path) -> DemoRun:
    html = workdir / "x.html"
    # No credentials, no config: the demo needs none and must not read the developer's.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENESYSCLOUD_", "SESSION_REAPER_"))}
    env["COLUMNS"] = "160"  # rich wraps to this width when stdout is not a terminal
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "session_reaper.commands.cli", "demo", "--quick", "--html", str(html)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return DemoRun(done.returncode, done.stdout, done.stderr, html, time.monotonic() - started)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    base = tmp_path_factory.getbasetemp()
    # Under pytest-xdist each worker's base is a child of this session's directory; alone, it is that.
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "session-reaper-demo"
    shared.mkdir(exist_ok=True)
    result = shared / "run.json"
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if result.exists():
                saved = json.loads(result.read_text())
                run = DemoRun(**{**saved, "html": Path(saved["html"])})
            else:
                run = run_demo(shared)
                result.write_text(json.dumps({**asdict(run), "html": str(run.html)}))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    yield run
