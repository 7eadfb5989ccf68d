"""Structured logs: JSON lines on stderr for `serve`, a readable console otherwise; secrets never leave.

The output is a pipeline of small pure steps (structlog processors), each a function of the event
dict. The same steps format the lines of other libraries (uvicorn, httpx) that log through the
standard `logging` module, so a service's stderr is one JSON object per line, whoever wrote it.

Every line about a conversation carries `conversation_id`: bind it with `conversation(cid)` around
the work, or pass it as a keyword (`conversationId=` is renamed on the way out).

The redaction step runs last before rendering, on every value, tracebacks included: the program's one
redactor (`session_reaper.redaction`) replaces credentials, values under secret-looking keys, and the
exact secrets this process was given in its environment by `[REDACTED]`.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO, cast

import structlog
from structlog.contextvars import bound_contextvars, merge_contextvars
from structlog.typing import EventDict, FilteringBoundLogger, Processor, WrappedLogger

from session_reaper.redaction import (
    REDACTED,
    SECRET_ENV,
    SECRET_KEY,
    redact,
    remembered_secrets,
    secrets_from_env,
)
from session_reaper.redaction import known_secrets as redaction_known_secrets

_PLAIN = (int, float, bool, type(None))

# One redactor for the whole program (session_reaper.redaction); its names, as this module's API.
__all__ = ["REDACTED", "SECRET_ENV", "scrub", "secrets_from_env"]


def scrub(text: str, known: Iterable[str] = ()) -> str:
    """`text` with every credential-looking part and every one of the `known` secrets replaced."""
    return redact(text, known)


def _redact_value(value: Any, known: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return scrub(value, known)
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if SECRET_KEY.search(str(k)) else _redact_value(v, known)) for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(v, known) for v in value]
    # Anything else is rendered through its str(): scrub that, as its repr may carry a secret.
    return scrub(str(value), known)


def make_redactor(known_secrets: Iterable[str] = ()) -> Processor:
    """A processor that redacts secrets from every key and value of the event dict."""
    given = tuple(known_secrets)
    known = redaction_known_secrets(given)
    seen = 0

    def redact_event(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        nonlocal known, seen
        later = remembered_secrets()  # an organization's secret, read after logging was set up
        if len(later) != seen:
            known, seen = redaction_known_secrets((*given, *later)), len(later)
        return cast(EventDict, _redact_value(event_dict, known))

    return redact_event


def normalize_conversation_id(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """One key for the conversation, whatever the caller named it."""
    for alias in ("conversationId", "conversation"):
        if alias in event_dict and isinstance(event_dict[alias], str):
            event_dict.setdefault("conversation_id", event_dict.pop(alias))
    return event_dict


_CONVERSATION_PATH = re.compile(
    r"/conversations/(?:messages/)?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
)


def conversation_from_path(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """A line about a platform request on a conversation (`.../conversations/{id}/...`) names it."""
    if "conversation_id" not in event_dict:
        for value in (event_dict.get("event"), event_dict.get("path")):
            found = _CONVERSATION_PATH.search(value) if isinstance(value, str) else None
            if found:
                event_dict["conversation_id"] = found.group(1)
                break
    return event_dict


def drop_color_message(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """uvicorn adds an ANSI-coloured copy of each message: not for machines."""
    event_dict.pop("color_message", None)
    return event_dict


_FIRST_KEYS = ("timestamp", "level", "event", "conversation_id")


def order_keys(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """When, how bad, what, and which conversation first: the rest follows as given."""
    ordered = {k: event_dict[k] for k in _FIRST_KEYS if k in event_dict}
    ordered.update((k, v) for k, v in event_dict.items() if k not in ordered)
    return ordered


def _level(level: str) -> int:
    names = logging.getLevelNamesMapping()
    try:
        return names[level.upper()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r} (use debug, info, warning or error)") from None


def shared_processors(known_secrets: Iterable[str]) -> list[Processor]:
    """The steps every line goes through before it is rendered, in order."""
    return [
        merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        normalize_conversation_id,
        conversation_from_path,
        drop_color_message,
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,  # plain text tracebacks: no locals, and redactable
        make_redactor(known_secrets),
        order_keys,
    ]


def configure(
    json: bool,
    level: str = "info",
    *,
    stream: TextIO | None = None,
    secrets: Iterable[str] | None = None,
) -> None:
    """Set up structlog and the standard `logging` module to write to `stream` (stderr by default).

    `json=True`: one JSON object per line (services). `json=False`: aligned console lines (people).
    `secrets`: exact values to redact besides the patterns; default: those of SECRET_ENV.
    """
    out = stream if stream is not None else sys.stderr
    threshold = _level(level)
    known = list(secrets) if secrets is not None else secrets_from_env()
    steps = shared_processors(known)
    renderer: Processor = (
        structlog.processors.JSONRenderer(default=str)
        if json
        else structlog.dev.ConsoleRenderer(
            colors=out.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[*steps, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *steps],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(threshold)
    # httpx: a line per request (the metrics count them); alembic: a line per migration step at start.
    for noisy in ("httpx", "httpcore", "alembic"):
        logging.getLogger(noisy).setLevel(max(threshold, logging.WARNING))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # whatever an earlier server set up
        server_logger = logging.getLogger(name)
        server_logger.handlers[:] = []
        server_logger.propagate = True
        server_logger.disabled = False
        server_logger.setLevel(logging.NOTSET)


def get_logger(**initial: Any) -> FilteringBoundLogger:
    """A logger with `initial` bound on every line it writes.

    Lazy: a module-level logger created before `configure` writes as configured when it is used.
    """
    return cast(FilteringBoundLogger, structlog.get_logger(**initial))


@contextmanager
def conversation(conversation_id: str) -> Iterator[None]:
    """Every line logged inside (in this task) carries `conversation_id`."""
    with bound_contextvars(conversation_id=conversation_id):
        yield
