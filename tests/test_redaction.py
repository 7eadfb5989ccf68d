"""The one redactor: every shape of credential, one marker, wherever text leaves."""

from __future__ import annotations

import pytest

from session_reaper.ledger.vocabulary import scrub as ledger_scrub
from session_reaper.redaction import REDACTED, SECRET_ENV, redact, secrets_from_env
from session_reaper.telemetry import logs


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer abc.def-ghi_123", "abc.def-ghi_123"),
        ("authorization: basic ZW11bGF0b3I6c2VjcmV0", "ZW11bGF0b3I6c2VjcmV0"),
        ("client_secret=hunter2hunter2&grant_type=x", "hunter2hunter2"),
        ('{"access_token": "tok-998877"}', "tok-998877"),
        ("password: pa55word!", "pa55word!"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl in a header", "eyJhbGciOiJIUzI1NiJ9"),
        ("cannot connect to postgresql://reaper:pg-s3cret@db:5432/reaper", "pg-s3cret"),
        ("sqlite+pysqlite://u:p4ss-word@/x", "p4ss-word"),
    ],
)
def test_credential_shapes_are_replaced_with_the_one_marker(text: str, secret: str) -> None:
    for scrubbed in (redact(text, ()), logs.scrub(text), ledger_scrub(text)):
        assert scrubbed is not None
        assert secret not in scrubbed and REDACTED in scrubbed
        assert redact(scrubbed, ()) == scrubbed  # a second pass changes nothing


def test_known_secrets_are_replaced_wherever_they_appear() -> None:
    text = "failed: the value xK9-known-value-22 was refused (xK9-known-value-22)"
    assert redact(text, ["xK9-known-value-22"]) == f"failed: the value {REDACTED} was refused ({REDACTED})"
    assert redact("a short one: abc", ["abc"]) == "a short one: abc"  # too short to be worth redacting


@pytest.mark.parametrize("name", SECRET_ENV)
def test_every_secret_variable_of_the_environment_is_redacted_by_default(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, f"value-of-{name.lower()}")
    assert f"value-of-{name.lower()}" in secrets_from_env()
    assert redact(f"oops value-of-{name.lower()} leaked") == f"oops {REDACTED} leaked"
    assert ledger_scrub(f"oops value-of-{name.lower()} leaked") == f"oops {REDACTED} leaked"


def test_console_tokens_and_the_ledger_password_are_secrets() -> None:
    assert {"SESSION_REAPER_CONSOLE_TOKEN", "SESSION_REAPER_CONSOLE_VIEWER_TOKEN", "PGPASSWORD"} <= set(
        SECRET_ENV
    )
    assert logs.REDACTED == REDACTED and logs.SECRET_ENV == SECRET_ENV
