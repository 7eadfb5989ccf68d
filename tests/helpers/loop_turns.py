"""Proof that the event loop ran while a call waited off it: a task on the loop counts its turns.

`loop_turns()` counts every turn and the longest the loop was kept from one (a call made on the loop
shows as a stall as long as the call). With a `gate` (a `threading.Event` the call under test waits at
in its worker thread), only the turns made while the gate is closed count, and once `enough` have
been counted and the call has `entered`, the gate is opened and the call finishes. A call made on the
loop instead blocks it: no turn is counted, the gate's own timeout ends the wait, and the count stays
below `enough`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

TURN = 0.01  # seconds between two counted turns
STALL = 0.05  # a turn this late is a stall, recorded


@dataclass
class LoopTurns:
    counted: int = 0  # turns the loop made (while the gate was closed, with a gate)
    longest_stall: float = 0.0  # seconds past `TURN` the loop was kept from its next turn, at most
    stalls: list[float] = field(default_factory=list)  # each time it was kept more than STALL from one


@contextlib.asynccontextmanager
async def loop_turns(
    gate: threading.Event | None = None, entered: threading.Event | None = None, *, enough: int = 5
) -> AsyncIterator[LoopTurns]:
    turns = LoopTurns()
    loop = asyncio.get_running_loop()

    async def count() -> None:
        while True:
            before = loop.time()
            await asyncio.sleep(TURN)
            late = loop.time() - before - TURN
            turns.longest_stall = max(turns.longest_stall, late)
            if late > STALL:
                turns.stalls.append(late)
            if gate is None:
                turns.counted += 1
            elif not gate.is_set():
                turns.counted += 1
                if turns.counted >= enough and (entered is None or entered.is_set()):
                    gate.set()  # the loop ran while the call waited: let it finish

    task = asyncio.create_task(count())
    try:
        yield turns
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
