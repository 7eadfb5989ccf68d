"""Fixtures for the console's API tests: a real `serve` process with the console's tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.console.console_harness import Starter
from tests.service.serve_harness import Serve


@pytest.fixture
def console(emulator: Any, tmp_path: Path) -> Iterator[Starter]:
    """Start with `console.start(*args, extra=...)`; tokens set, serve killed at the end."""
    process = Serve(emulator.base_url, tmp_path)
    try:
        yield Starter(process, emulator)
    finally:
        process.stop()
