"""The rate limit can count on the virtual clock, for drivers that step time (a virtual day)."""

from __future__ import annotations

import pytest

from genesys_emulator.errors import PlatformError
from genesys_emulator.server import build_world


def test_on_the_virtual_clock_a_minute_of_virtual_time_frees_the_window():
    world = build_world(rate_limit=3, seed="none")
    world.registry.rate_on_virtual_clock = True
    client = world.registry.clients["emulator"]
    for _ in range(3):
        world.registry.take(client)
    with pytest.raises(PlatformError) as limited:
        world.registry.take(client)
    assert limited.value.status == 429

    world.clock.advance(61)

    world.registry.take(client)  # a new virtual minute: allowed again, no real time passed
