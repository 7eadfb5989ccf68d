"""Where the platform lives: a region name (or a bare domain, or an explicit URL) -> API and login bases.

The table is the official SDK's ``PureCloudRegionHosts`` (PureCloudPlatformClientV2 269.0.0); the
platform's Terraform provider accepts the same names case-insensitively. The SDK derives the login
host from the API host by swapping ``api.`` for ``login.``, which is what ``resolve`` does too.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final
from urllib.parse import urlsplit

from session_reaper.errors import EXIT_USAGE, ReaperError

# AWS region name -> the platform's domain for it [SDK].
REGIONS: Final = MappingProxyType(
    {
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
)

# The SDK's default host is us-east-1's; with no region configured we do the same.
DEFAULT_REGION: Final = "us-east-1"


class UnknownRegion(ReaperError, ValueError):
    """The configured region is neither a known region name nor a domain."""

    exit_code = EXIT_USAGE

    def __init__(self, region: str) -> None:
        self.region = region
        super().__init__(
            f"unknown Genesys Cloud region {region!r}; use one of {', '.join(REGIONS)} "
            "or a domain such as mypurecloud.ie (GENESYSCLOUD_REGION), or set GENESYSCLOUD_API_URL"
        )


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Base URLs without a trailing slash: ``{api_base}/api/v2/...`` and ``{login_base}/oauth/token``."""

    api_base: str
    login_base: str


def domain_for(region: str) -> str:
    """The domain for a region name (``eu-west-1``, ``EU_WEST_1``) or a domain (``mypurecloud.ie``)."""
    text = region.strip().lower()
    name = text.replace("_", "-")
    if name in REGIONS:
        return REGIONS[name]
    # A domain, perhaps pasted as a URL or with the api./login. host prefix: keep only the domain.
    host = urlsplit(text).hostname if "//" in text else text.split("/", 1)[0]
    host = (host or "").strip(".")
    for prefix in ("api.", "login.", "apps."):
        if host.startswith(prefix):
            host = host[len(prefix) :]
    labels = host.split(".")
    if len(labels) >= 2 and all(label and _is_label(label) for label in labels):
        return host
    raise UnknownRegion(region)


def resolve(region: str | None, api_url: str | None = None, login_url: str | None = None) -> Endpoints:
    """API and login bases from ``GENESYSCLOUD_REGION`` / ``_API_URL`` / ``_LOGIN_URL``.

    An explicit API URL (the emulator, a gateway) wins over the region, and then OAuth is served from
    the same base unless a login URL says otherwise.
    """
    api_url = (api_url or "").strip()
    login_url = (login_url or "").strip()
    if api_url:
        api_base = _base(api_url)
        return Endpoints(api_base, _base(login_url) if login_url else api_base)
    domain = domain_for(region) if region and region.strip() else REGIONS[DEFAULT_REGION]
    return Endpoints(f"https://api.{domain}", _base(login_url) if login_url else f"https://login.{domain}")


def _base(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) base URL: {url!r}")
    return url.rstrip("/")


def _is_label(label: str) -> bool:
    return all(c.isalnum() or c == "-" for c in label) and not label.startswith("-")
