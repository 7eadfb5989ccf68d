"""Fixtures for the service tests: a `serve` process bound to the per-test emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serve_harness import Serve


@pytest.fixture
def serve(emulator: Any, tmp_path: Path) -> Iterator[Serve]:
    process = Serve(emulator.base_url, tmp_path)
    try:
        yield process
    finally:
        process.stop()
