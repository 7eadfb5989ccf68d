"""`WriteProof`: the write permissions are proven once per process, again after a 403 or when stale.

Against the emulator over loopback; the proof's age runs on an injected clock (no sleeping).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from session_reaper.config import Settings
from session_reaper.genesys.api import GenesysApi
from session_reaper.genesys.capabilities import WriteProof, needed_writes
from session_reaper.genesys.errors import PermissionMissing, ServerError
from session_reaper.genesys.http import RetryPolicy
from session_reaper.genesys.regions import resolve
from tests.helpers.clocks import FakeClock


def _probes(emulator: Any) -> list[dict[str, Any]]:
    return [
        r
        for r in emulator.requests()
        if r["method"] in ("PATCH", "POST") and "analytics" not in r["path"] and r["path"] != "/oauth/token"
    ]


def _run(
    emulator: Any, proof: WriteProof, settings: Settings, passes: int, between: Any = None
) -> list[BaseException | None]:
    async def main() -> list[BaseException | None]:
        results: list[BaseException | None] = []
        retry = RetryPolicy(max_attempts=2, backoff_base=0.01, backoff_cap=0.02)
        async with GenesysApi.connect(
            resolve(None, emulator.base_url), "emulator", "emulator-secret", retry=retry
        ) as api:
            for index in range(passes):
                try:
                    # Several workers at once wait for one proof instead of sending their own.
                    await asyncio.gather(*(proof.prove(api, settings) for _ in range(4)))
                    results.append(None)
                except Exception as exc:
                    results.append(exc)
                if between is not None:
                    between(index)
        return results

    return asyncio.run(main())


def test_one_proof_serves_every_worker_and_every_pass_until_it_is_stale(emulator: Any) -> None:
    settings = Settings()
    clock = FakeClock(1000.0)
    proof = WriteProof(max_age=timedelta(minutes=15), _clock=clock)
    expected = len(needed_writes(settings))

    def later(index: int) -> None:
        clock.now += 60 if index == 0 else 15 * 60  # pass 2 within the age, pass 3 past it

    assert _run(emulator, proof, settings, 3, later) == [None, None, None]
    assert len(_probes(emulator)) == 2 * expected == proof.probes_sent


def test_a_refused_write_makes_the_next_write_prove_again(emulator: Any) -> None:
    settings = Settings()
    proof = WriteProof(_clock=FakeClock(1000.0))
    assert _run(emulator, proof, settings, 1) == [None]
    proof.forget()  # what the sweep does on a real 403
    emulator.fault(
        method="POST",
        path="/communications/[^/]+/messages$",
        status=403,
        message="missing conversation:message:create",
    )

    [result] = _run(emulator, proof, settings, 1)

    assert isinstance(result, PermissionMissing)
    assert "conversation:message:create" in str(result) and "nothing was written" in str(result)
    assert not proof.fresh()


def test_a_proof_the_platform_could_not_judge_is_not_a_proof(emulator: Any) -> None:
    proof = WriteProof(_clock=FakeClock(1000.0))
    emulator.fault(method="PATCH", path="/participants/[^/]+$", status=503)

    [result] = _run(emulator, proof, Settings(), 1)

    assert isinstance(result, ServerError)
    assert not proof.fresh()


@pytest.mark.parametrize(
    ("close", "keys"),
    [
        ({}, {"disconnect-participant", "disconnect-conversation", "teardown", "annotate", "send-message"}),
        (
            {"allow_teardown": False, "annotate": False},
            {"disconnect-participant", "disconnect-conversation", "send-message"},
        ),
        (
            {"closing_text": "", "wrapup_code": "w-1"},
            {"disconnect-participant", "disconnect-conversation", "teardown", "annotate", "wrapup"},
        ),
    ],
)
def test_only_what_the_configuration_can_write_is_proven(close: dict[str, Any], keys: set[str]) -> None:
    settings = Settings.model_validate({"close": close})
    assert {c.key for c in needed_writes(settings)} == keys
