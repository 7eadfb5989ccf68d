"""The one redactor: what a secret looks like and what replaces it, for every place text leaves.

Logs (every value of every line, tracebacks included), exception messages from the transport, the
ledger's error columns, reports and command output all go through `redact`, with one marker,
`[REDACTED]`. It replaces the exact secrets this process knows (its environment's, and those a caller
adds, such as the bearer tokens it was issued), then anything shaped like a credential: bearer and
basic authorization values, `client_secret=...`-like pairs, JSON Web Tokens, and the password of a
URL (`postgresql://user:password@host`, the ledger's).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

REDACTED = "[REDACTED]"

# Environment variables whose values are secrets wherever they show up.
SECRET_ENV = (
    "GENESYSCLOUD_OAUTHCLIENT_SECRET",
    "GENESYSCLOUD_ACCESS_TOKEN",
    "PGPASSWORD",  # the ledger's PostgreSQL password when it is not in the URL
    "SESSION_REAPER_CONSOLE_TOKEN",
    "SESSION_REAPER_CONSOLE_VIEWER_TOKEN",
)
MIN_KNOWN_SECRET = 6  # shorter values would redact ordinary words

# Keys whose values are secrets whatever they hold (log fields, headers, form fields).
SECRET_KEY = re.compile(
    r"secret|passw(or)?d|authorization|api[_-]?key|credential|cookie|(^|[_-])token$|access[_-]?token",
    re.IGNORECASE,
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization header values: "Bearer abc.def", "Basic ZW11bGF0b3I6..."
    (
        re.compile(r"\b(bearer|basic)(\s+)(?!\[REDACTED\])[A-Za-z0-9._~+/=-]{6,}", re.IGNORECASE),
        rf"\1\2{REDACTED}",
    ),
    # key=value, key: value, "key": "value" for secret-looking keys
    (
        re.compile(
            r"""\b(authorization|client_secret|access_token|refresh_token|id_token|password|passwd|api_key|"""
            r"""secret|token)(["']?\s*[=:]\s*["']?)(?!\[REDACTED\])[^\s&"',;}]+""",
            re.IGNORECASE,
        ),
        rf"\1\2{REDACTED}",
    ),
    # JSON Web Tokens
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
    # the password in a URL's user information
    (re.compile(r"(://[^/\s:@]+:)(?!\[REDACTED\])[^@\s/]+(@)"), rf"\1{REDACTED}\2"),
)


def known_secrets(values: Iterable[str]) -> tuple[str, ...]:
    """The values worth replacing verbatim, longest first (one may contain another)."""
    return tuple(sorted({v for v in values if v and len(v) >= MIN_KNOWN_SECRET}, key=len, reverse=True))


# Secrets this process read from variables only the configuration names (each `[orgs.NAME]` table's
# client_secret_env): they are redacted everywhere, like those of SECRET_ENV.
_remembered: list[str] = []


def remember_secret(value: str) -> None:
    """From now on, `value` is redacted wherever text leaves (logs configured earlier included)."""
    if value and value not in _remembered:
        _remembered.append(value)


def remembered_secrets() -> tuple[str, ...]:
    return tuple(_remembered)


def secrets_from_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """The secrets of SECRET_ENV in the environment, and those remembered (`remember_secret`)."""
    env = os.environ if environ is None else environ
    return [*(env[name] for name in SECRET_ENV if env.get(name)), *_remembered]


def redact(text: str, known: Iterable[str] | None = None) -> str:
    """`text` with every known secret and every credential-looking part replaced by `REDACTED`.

    `known`: exact values to replace; by default this process's environment secrets.
    """
    values = known_secrets(secrets_from_env() if known is None else known)
    for secret in values:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
