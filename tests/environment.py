"""What the suite needs from the machine (PostgreSQL, Chromium), found the same way by every test.

The local PostgreSQL that this machine kind runs is the default, so `make test` in a fresh clone runs
the PostgreSQL cases; SESSION_REAPER_TEST_POSTGRES_URL points elsewhere. A missing dependency skips
with a reason that starts with one of the `*_SKIP` prefixes, which the summary (tests/conftest.py)
repeats loudly; REQUIRE_POSTGRES / REQUIRE_CHROMIUM (CI) turn the skip into a failure.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest

POSTGRES_ENV = "SESSION_REAPER_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
POSTGRES_SKIP = "PostgreSQL not available"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_SKIP = "Chromium not available"


def postgres_url() -> str:
    return os.environ.get(POSTGRES_ENV) or DEFAULT_POSTGRES_URL


def _required(variable: str) -> bool:
    return os.environ.get(variable, "") not in ("", "0")


def postgres_unavailable(why: str) -> NoReturn:
    if _required("REQUIRE_POSTGRES"):
        pytest.fail(f"REQUIRE_POSTGRES is set but PostgreSQL is unusable at {_shown()}: {why}")
    pytest.skip(f"{POSTGRES_SKIP} at {_shown()}: {why} (set {POSTGRES_ENV}, or start it)")


def answering_postgres() -> str:
    """The test PostgreSQL's URL once it answers `SELECT 1`; skipped (loudly) or failed when it does not."""
    from sqlalchemy import create_engine, text

    from session_reaper.ledger import normalize_url

    url = postgres_url()
    engine = create_engine(normalize_url(url), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        postgres_unavailable(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    finally:
        engine.dispose()
    return url


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"no {CHROMIUM}: run scripts/ensure-chromium"
    if _required("REQUIRE_CHROMIUM"):
        pytest.fail(f"REQUIRE_CHROMIUM is set but there is {message}")
    pytest.skip(f"{CHROMIUM_SKIP}: {message}")


def screenshot(page: Path, png: Path, *, profile: Path, width: int, height: int, timeout: float) -> None:
    """Headless Chromium draws `page` into `png` (width x height), offline, with a throw-away profile."""
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--screenshot={png}",
        f"--window-size={width},{height}",
        page.resolve().as_uri(),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=timeout)


def _shown() -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(postgres_url()).render_as_string(hide_password=True)
    except Exception:
        return POSTGRES_ENV
