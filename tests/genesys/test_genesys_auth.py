"""The token cache: renewed before it runs out (on monotonic time), one fetch however many tasks ask."""

from __future__ import annotations

import asyncio

import pytest

from session_reaper.genesys.auth import AccessToken, ClientCredentials, TokenCache, parse_token_answer
from session_reaper.genesys.errors import AuthenticationFailed
from tests.helpers.clocks import FakeClock


def test_the_token_is_renewed_shortly_before_it_expires() -> None:
    clock = FakeClock(100.0)
    fetched: list[str] = []

    async def fetch() -> AccessToken:
        await asyncio.sleep(0)
        fetched.append(f"t{len(fetched) + 1}")
        return parse_token_answer({"access_token": fetched[-1], "expires_in": 3600}, clock.now)

    async def main() -> list[str]:
        cache = TokenCache(fetch, monotonic=clock)
        seen = list(await asyncio.gather(*(cache.token() for _ in range(10))))  # one fetch for all
        clock.now += 3600 - 61  # a minute and a second before expiry: still good
        seen.append(await cache.token())
        clock.now += 2  # inside the last minute: renewed before the platform refuses it
        seen.append(await cache.token())
        return seen

    seen = asyncio.run(main())
    assert fetched == ["t1", "t2"]
    assert seen == ["t1"] * 11 + ["t2"]


def test_a_401_renewal_is_shared_by_every_task_that_saw_it() -> None:
    fetched: list[str] = []

    async def fetch() -> AccessToken:
        await asyncio.sleep(0)
        fetched.append(f"t{len(fetched) + 1}")
        return AccessToken(fetched[-1], None)

    async def main() -> list[str]:
        cache = TokenCache(fetch)
        rejected = await cache.token()
        return list(await asyncio.gather(*(cache.renew(rejected) for _ in range(5))))

    assert asyncio.run(main()) == ["t2"] * 5
    assert fetched == ["t1", "t2"]


def test_a_fixed_token_is_used_as_is_and_cannot_be_renewed() -> None:
    async def main() -> str:
        cache = TokenCache(None, fixed_token="fixed")
        assert not cache.renewable
        token = await cache.token()
        with pytest.raises(AuthenticationFailed):
            await cache.renew(token)
        return token

    assert asyncio.run(main()) == "fixed"


def test_secrets_stay_out_of_reprs() -> None:
    assert "hunter2" not in repr(ClientCredentials("id", "hunter2"))
    assert "tok-123" not in repr(AccessToken("tok-123", None))
    assert ClientCredentials("id", "secret").basic_authorization() == "Basic aWQ6c2VjcmV0"


def test_an_answer_without_a_token_is_an_authentication_failure() -> None:
    with pytest.raises(AuthenticationFailed):
        parse_token_answer({"token_type": "bearer"}, 0.0)
