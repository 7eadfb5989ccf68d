"""Shared fixtures: one emulator per pytest(-xdist) worker, reset before every test that uses it.

`emulator` is an `Emulator` (`genesys_emulator.client`): the admin API (`EmulatorAdmin`) with
`.base_url` and `.platform`, an `httpx.Client` already authenticated as the default OAuth client
(`emulator` / `emulator-secret`), for judging the platform's state through the platform API itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from genesys_emulator.client import Emulator
from genesys_emulator.server import EmulatorServer
from tests.environment import CHROMIUM_SKIP, POSTGRES_SKIP


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    # The default client's limit is raised far above the platform's 300/min: its sliding window would
    # otherwise carry over from test to test. Tests of the limit add a client of their own.
    with EmulatorServer(rate_limit=100_000) as server:
        yield server


@pytest.fixture(scope="session")
def _emulator_session(emulator_server: EmulatorServer) -> Iterator[Emulator]:
    emulator = Emulator(emulator_server.base_url)
    yield emulator
    emulator.close()


@pytest.fixture
def emulator(_emulator_session: Emulator) -> Iterator[Emulator]:
    """A reset world: no conversations, queues, faults, triggers or logged requests; clients stay.

    The emulator is shared by the tests of a worker, so each test's traffic must end with it: the
    reset at teardown waits for every platform request the test started (one it abandoned on a
    client timeout included) to be answered, and a request begun before a reset is never logged in
    the next test's world.
    """
    yield _emulator_session.fresh()
    _emulator_session.reset()


@pytest.fixture(autouse=True)
def _logging_left_as_found() -> Iterator[None]:
    """A command run in-process configures logging onto its runner's stream (`telemetry.logs.configure`
    replaces the root's handlers and structlog's logger factory); that stream is closed after the test,
    and a later test's log line (an emulator thread's, say) would go to it: a ValueError in that test,
    a traceback on stderr, or the line late for `caplog`."""
    root = logging.getLogger()
    level = root.level
    # structlog's PrintLogger holds the stream it was configured with, too: put back what was there
    structlog_config = dict(structlog.get_config())
    yield
    structlog.configure(**structlog_config)
    for handler in list(root.handlers):  # pytest's own handlers come and go by phase: left alone
        stream = getattr(handler, "stream", None)
        if stream is not None and getattr(stream, "closed", False):
            root.removeHandler(handler)
    root.setLevel(level)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """A missing PostgreSQL or Chromium is said at the end, loudly, not buried among the skips."""
    for prefix in (POSTGRES_SKIP, CHROMIUM_SKIP):
        reasons: dict[str, int] = {}
        for report in terminalreporter.stats.get("skipped", []):
            longrepr = getattr(report, "longrepr", None)
            reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
            reason = reason.removeprefix("Skipped: ")
            if reason.startswith(prefix):
                reasons[reason] = reasons.get(reason, 0) + 1
        if reasons:
            terminalreporter.write_sep(
                "!", f"{sum(reasons.values())} tests SKIPPED: {prefix}", red=True, bold=True
            )
            for reason, count in reasons.items():
                terminalreporter.write_line(f"  {count} x {reason}", red=True)
