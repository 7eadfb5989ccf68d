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


def test_a_driver_stepping_time_faster_has_waits_told_in_the_clients_seconds():
    """A soak at 120x: "the count falls in 60 s" of the virtual clock is half a second of the client's,
    which sleeps on its own clock (unscaled, a full minute stalled it for two virtual hours)."""
    world = build_world(rate_limit=2, seed="none")
    world.registry.rate_on_virtual_clock = True
    client = world.registry.clients["emulator"]
    assert world.registry.rate_headers(client)["inin-ratelimit-reset"] == "60"  # unscaled: whole seconds
    world.registry.wait_scale = 1 / 120
    world.registry.take(client)
    world.registry.take(client)
    headers = world.registry.rate_headers(client)
    assert headers["inin-ratelimit-count"] == "2"
    assert headers["inin-ratelimit-reset"] == "0.500"
    with pytest.raises(PlatformError) as limited:
        world.registry.take(client)
    assert limited.value.retry_after == pytest.approx(0.5)
