"""The log pipeline: JSON lines, the conversation id on every line about one, and no secret ever."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from session_reaper.telemetry import logs

SECRET = "s3cr3t-value-of-the-client"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJlbXVsYXRvciJ9.c2lnbmF0dXJl"


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    logs.configure(json=True, level="info", stream=stream, secrets=[SECRET])
    yield stream
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = []


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in stream.getvalue().splitlines()]


def test_lines_are_json_with_iso_timestamp_level_and_event(output: io.StringIO) -> None:
    logs.get_logger(component="sweep").info("sweep finished", closed=3)
    logs.get_logger().debug("below the level")

    (line,) = lines(output)
    assert list(line)[:3] == ["timestamp", "level", "event"]
    assert line["timestamp"].endswith("Z") and "T" in line["timestamp"]
    assert line["level"] == "info"
    assert line["event"] == "sweep finished"
    assert line["component"] == "sweep" and line["closed"] == 3


def test_a_logger_made_before_configure_writes_as_configured() -> None:
    early = logs.get_logger(component="early")
    stream = io.StringIO()
    try:
        logs.configure(json=True, level="info", stream=stream)
        early.info("after configure")
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers[:] = []
    (line,) = lines(stream)
    assert line["event"] == "after configure" and line["component"] == "early"


def test_conversation_id_is_on_every_line_inside_the_context(output: io.StringIO) -> None:
    log = logs.get_logger()
    with logs.conversation("conv-1"):
        log.info("read")
        log.warning("step failed", step="disconnect:agent")
    log.info("outside")
    log.info("named by the caller", conversationId="conv-2")

    got = lines(output)
    assert [ln.get("conversation_id") for ln in got] == ["conv-1", "conv-1", None, "conv-2"]
    assert "conversationId" not in got[3]


def test_a_line_about_a_request_on_a_conversation_names_it(output: io.StringIO) -> None:
    cid = "0b7e4f52-3c1d-4e8a-9f2b-6a5d4c3b2a10"
    logging.getLogger("session_reaper.genesys").warning(
        "platform PATCH /api/v2/conversations/messages/%s -> 503", cid
    )
    logs.get_logger().info("request", path=f"/api/v2/conversations/{cid}")
    logs.get_logger().info("token", path="/oauth/token")

    got = lines(output)
    assert [ln.get("conversation_id") for ln in got] == [cid, cid, None]


@pytest.mark.parametrize(
    "value",
    [
        f"Authorization: Bearer {JWT}",
        "authorization: bearer abcdef123456",
        "Basic ZW11bGF0b3I6ZW11bGF0b3Itc2VjcmV0",
        "grant_type=client_credentials&client_secret=hunter22&x=1",
        '{"client_secret": "hunter22", "access_token": "tok-123456"}',
        f"token {JWT} in a sentence",
        f"the configured secret {SECRET} leaked into a message",
    ],
)
def test_credentials_in_values_are_redacted(output: io.StringIO, value: str) -> None:
    logs.get_logger().info("request", detail=value, nested={"list": [value]})

    raw = output.getvalue()
    for secret in (JWT, "abcdef123456", "ZW11bGF0b3I6ZW11bGF0b3Itc2VjcmV0", "hunter22", "tok-123456", SECRET):
        assert secret not in raw
    assert logs.REDACTED in lines(output)[0]["detail"]


def test_values_under_secret_looking_keys_are_redacted(output: io.StringIO) -> None:
    logs.get_logger().info(
        "config",
        client_secret="plain",
        headers={"Authorization": "x", "Accept": "application/json"},
        access_token="abc",
        token="abc",
        token_type="bearer",
    )

    (line,) = lines(output)
    assert line["client_secret"] == logs.REDACTED
    assert line["headers"] == {"Authorization": logs.REDACTED, "Accept": "application/json"}
    assert line["access_token"] == logs.REDACTED and line["token"] == logs.REDACTED
    assert line["token_type"] == "bearer"


def test_tracebacks_and_object_reprs_are_redacted(output: io.StringIO) -> None:
    class Leaky:
        def __repr__(self) -> str:
            return f"Leaky(secret={SECRET})"

        __str__ = __repr__

    try:
        raise RuntimeError(f"401 with Bearer {JWT}")
    except RuntimeError:
        logs.get_logger().exception("request failed", what=Leaky())

    raw = output.getvalue()
    assert JWT not in raw and SECRET not in raw
    (line,) = lines(output)
    assert "RuntimeError" in line["exception"]


def test_standard_logging_goes_through_the_same_pipeline(output: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
    logging.getLogger("some.lib").warning("sent Bearer %s", JWT)

    got = lines(output)
    assert got[0]["event"] == "Started server process [42]" and got[0]["logger"] == "uvicorn.error"
    assert JWT not in output.getvalue()


def test_secrets_default_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENESYSCLOUD_OAUTHCLIENT_SECRET", "from-the-environment")
    stream = io.StringIO()
    try:
        logs.configure(json=False, level="debug", stream=stream)
        logs.get_logger().debug("oops", text="secret is from-the-environment")
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers[:] = []
    assert "from-the-environment" not in stream.getvalue()
    assert "oops" in stream.getvalue()


def test_an_unknown_level_is_an_error() -> None:
    with pytest.raises(ValueError, match="verbose"):
        logs.configure(json=True, level="verbose", stream=io.StringIO())


def test_configure_takes_back_the_server_loggers_an_earlier_server_set_up() -> None:
    server = logging.getLogger("uvicorn.error")
    server.setLevel(logging.WARNING)
    server.propagate = False
    server.disabled = True
    stream = io.StringIO()
    try:
        logs.configure(json=True, level="info", stream=stream)
        server.info("Started server process [%d]", 7)
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers[:] = []
    assert lines(stream)[0]["event"] == "Started server process [7]"
