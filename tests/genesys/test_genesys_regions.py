"""Region names, bare domains and explicit URLs resolve to the hosts the official SDK uses."""

from __future__ import annotations

import pytest

from session_reaper.genesys.regions import REGIONS, Endpoints, UnknownRegion, domain_for, resolve

# PLATFORM.md "Region hosts [SDK]", copied by hand so that a typo in the table is caught.
EXPECTED = {
    "us-east-1": "mypurecloud.com",
    "us-east-2": "use2.us-gov-pure.cloud",
    "us-west-2": "usw2.pure.cloud",
    "ca-central-1": "cac1.pure.cloud",
    "sa-east-1": "sae1.pure.cloud",
    "mx-central-1": "mxc1.pure.cloud",
    "eu-west-1": "mypurecloud.ie",
    "eu-west-2": "euw2.pure.cloud",
    "eu-central-1": "mypurecloud.de",
    "eu-central-2": "euc2.pure.cloud",
    "eusc-de-east-1": "edee1.eusc-pure.cloud",
    "me-central-1": "mec1.pure.cloud",
    "ap-south-1": "aps1.pure.cloud",
    "ap-southeast-1": "apse1.pure.cloud",
    "ap-southeast-2": "mypurecloud.com.au",
    "ap-northeast-1": "mypurecloud.jp",
    "ap-northeast-2": "apne2.pure.cloud",
    "ap-northeast-3": "apne3.pure.cloud",
}


def test_table_is_exactly_the_platform_list() -> None:
    assert dict(REGIONS) == EXPECTED


@pytest.mark.parametrize(("region", "domain"), sorted(EXPECTED.items()))
def test_every_region_resolves_to_api_and_login_hosts(region: str, domain: str) -> None:
    assert resolve(region) == Endpoints(f"https://api.{domain}", f"https://login.{domain}")
    # The platform's own tools accept the names case-insensitively; the SDK enum spells them with _.
    assert resolve(region.upper()).api_base == f"https://api.{domain}"
    assert domain_for(region.replace("-", "_")) == domain


@pytest.mark.parametrize("domain", sorted(set(EXPECTED.values())))
def test_a_bare_domain_is_accepted(domain: str) -> None:
    assert resolve(domain) == Endpoints(f"https://api.{domain}", f"https://login.{domain}")


@pytest.mark.parametrize(
    "text", ["api.mypurecloud.ie", "https://api.mypurecloud.ie/", "login.mypurecloud.ie"]
)
def test_a_host_or_url_pasted_as_region_keeps_only_the_domain(text: str) -> None:
    assert domain_for(text) == "mypurecloud.ie"


def test_the_sdk_default_region_applies_when_none_is_set() -> None:
    assert resolve(None) == Endpoints("https://api.mypurecloud.com", "https://login.mypurecloud.com")
    assert resolve("  ").api_base == "https://api.mypurecloud.com"


def test_an_api_url_serves_oauth_from_the_same_base() -> None:
    endpoints = resolve("eu-west-1", "http://127.0.0.1:8089/")
    assert endpoints == Endpoints("http://127.0.0.1:8089", "http://127.0.0.1:8089")


def test_a_login_url_overrides_the_oauth_base() -> None:
    assert resolve(None, "https://gw.example/genesys", "https://login.gw.example") == Endpoints(
        "https://gw.example/genesys", "https://login.gw.example"
    )
    assert resolve("eu-west-1", None, "https://sso.example/").login_base == "https://sso.example"


@pytest.mark.parametrize("region", ["us-east-3", "mars", "eu west 1"])
def test_an_unknown_region_names_the_valid_ones(region: str) -> None:
    with pytest.raises(UnknownRegion) as caught:
        resolve(region)
    message = str(caught.value)
    assert repr(region) in message
    for name in EXPECTED:
        assert name in message


def test_a_malformed_api_url_is_refused() -> None:
    with pytest.raises(ValueError, match="base URL"):
        resolve(None, "127.0.0.1:8089")
