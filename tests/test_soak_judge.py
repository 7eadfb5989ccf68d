"""The soak's judge of double acts (benchmarks/soak.py `ActLog`), on an in-process world.

Run S counted three double acts; two were the judge's: a teardown repeated on a conversation it had
already ended (the platform takes it as done; it is retried like a read), and a second closing text
after the guest came back, wrote, and went quiet again (a new close). A text sent twice in one close,
or a teardown that ends something twice, must still count.
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.common import Thresholds
from benchmarks.soak import ActLog
from genesys_emulator.server import build_world
from tests.helpers.scenarios import acd, agent, customer


def _chat(world: Any) -> tuple[str, str]:
    conv = world.create_conversation(
        {
            "messageType": "webmessaging",
            "queueId": "queue-support",
            "participants": [customer(ago="20m"), acd(), agent(ago="19m")],
        }
    )
    (leg,) = [leg for leg in conv.legs if leg.purpose == "agent"]
    return conv.id, leg.communication_id


def test_a_teardown_repeated_on_an_ended_conversation_is_not_a_second_act() -> None:
    world = build_world(300, "none", 0.0, 0.0)
    acts = ActLog(world, Thresholds()).install()
    cid, _ = _chat(world)
    world.teardown(cid)
    world.clock.advance(60)
    world.teardown(cid)  # its first attempt's answer was lost: retried, and nothing is left to end
    assert acts.doubles() == []
    assert [kind for _, kind, _ in acts.timeline[cid]] == ["teardown", "teardown (nothing left to end)"]


@pytest.mark.parametrize(
    ("between", "doubles"),
    [
        # the guest came back after the first text: that close was called off, the later one is new
        ("customer", 0),
        # an agent's message is no guest coming back: the same close's text sent twice
        ("agent", 1),
    ],
)
def test_a_second_closing_text_is_a_double_act_unless_the_guest_wrote_since(
    between: str, doubles: int
) -> None:
    world = build_world(300, "none", 0.0, 0.0)
    acts = ActLog(world, Thresholds()).install()
    cid, communication = _chat(world)
    world.send_message(cid, communication, "This conversation is being closed.")
    world.clock.advance(30)
    world.admin_message(cid, between, "wait, one more thing")
    world.clock.advance(900)
    world.send_message(cid, communication, "This conversation is being closed.")
    assert acts.doubles() == [cid] * doubles
