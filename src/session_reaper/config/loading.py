"""Reading a policy file: which file, TOML, validation, and a message that names the file, line and key.

tomllib gives no line numbers for keys, so the line is found by scanning the file's text for the
table header and the key (`_locate`).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ValidationError,
)
from pydantic_core import ErrorDetails

from session_reaper.config.errors import ConfigError
from session_reaper.config.tables import (
    CONFIG_ENV,
    DEFAULT_FILE,
    CloseConfig,
    EventsConfig,
    QueuesConfig,
    RuleConfig,
    ScheduleConfig,
    Settings,
    SweepConfig,
)
from session_reaper.core.rules import RULE_ORDER


def _config_path(path: Path | None, environ: Mapping[str, str], cwd: Path) -> tuple[Path | None, bool]:
    """(file to read, whether it was named explicitly); an explicitly named file must exist."""
    if path is not None:
        return path, True
    named = environ.get(CONFIG_ENV, "").strip()
    if named:
        return Path(named), True
    default = cwd / DEFAULT_FILE
    return (default, False) if default.is_file() else (None, False)


def load_settings(
    path: Path | None = None, *, environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Settings:
    """`--config FILE`, else `$SESSION_REAPER_CONFIG`, else `./session-reaper.toml` if present, else defaults.

    `cwd` is where `./session-reaper.toml` is looked for (default: the working directory).
    """
    env = os.environ if environ is None else environ
    found, explicit = _config_path(path, env, cwd or Path.cwd())
    if found is None:
        return Settings()
    shown = str(path) if path is not None else str(found) if explicit else DEFAULT_FILE
    try:
        text = found.read_text(encoding="utf-8")
    except FileNotFoundError:
        via = "" if path is not None else f" (named by ${CONFIG_ENV})"
        raise ConfigError(f"{shown}: no such file{via}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{shown}: cannot read: {exc.__class__.__name__}") from None
    settings = parse_settings(text, shown)
    settings._source = found
    return settings


_AT_LINE = re.compile(r"\s*\(at line (\d+), column \d+\)|\s*\(at end of document\)")


def parse_settings(text: str, filename: str = DEFAULT_FILE) -> Settings:
    """Settings from TOML text; every problem is a ConfigError naming `filename`, the line and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = re.search(r"at line (\d+)", message)
        line = found.group(1) if found else str(max(1, len(text.rstrip("\n").split("\n"))))
        raise ConfigError(f"{filename}:{line}: TOML syntax error: {_AT_LINE.sub('', message)}") from None
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = sorted(
            (_describe(error, text, data, filename) for error in exc.errors()), key=lambda p: p[0]
        )
        raise ConfigError("\n".join(message for _, message in problems)) from None


# ----------------------------------------------------------------------------------- error messages

_HEADER = re.compile(r"^\s*\[\[?(?P<name>[^\]]+)\]\]?\s*(?:#.*)?$")
_BARE_OR_QUOTED = r'(?:[A-Za-z0-9_-]+|"[^"]*"|\'[^\']*\')'
_KEY = re.compile(rf"^\s*(?P<key>{_BARE_OR_QUOTED}(?:\s*\.\s*{_BARE_OR_QUOTED})*)\s*=")
_KEY_PART = re.compile(r'"([^"]*)"|\'([^\']*)\'|([A-Za-z0-9_-]+)')


def _split_key(dotted: str) -> tuple[str, ...]:
    return tuple(a or b or c for a, b, c in _KEY_PART.findall(dotted))


def _key_lines(text: str) -> list[tuple[int, tuple[str, ...]]]:
    """(line number, full key path) of every table header and key in the file, roughly but enough."""
    found: list[tuple[int, tuple[str, ...]]] = []
    table: tuple[str, ...] = ()
    in_multiline = False
    # TOML ends lines at \n only: str.splitlines() would also split at \x85 or \u2028 and miscount
    for number, line in enumerate(text.split("\n"), start=1):
        quotes = line.count('"""') + line.count("'''")
        if in_multiline:
            in_multiline = quotes % 2 == 0
            continue
        if header := _HEADER.match(line):
            table = _split_key(header["name"])
            found.append((number, table))
        elif key := _KEY.match(line):
            found.append((number, table + _split_key(key["key"])))
        in_multiline = quotes % 2 == 1
    return found


def _locate(text: str, loc: tuple[str, ...], *, whole_table: bool = False) -> int | None:
    """The line that defines `loc` (or its nearest enclosing table)."""
    entries = _key_lines(text)
    if whole_table:
        # An unknown table: point at the first setting in it, the thing the user meant to configure.
        inside = next((n for n, path in entries if len(path) > len(loc) and path[: len(loc)] == loc), None)
        if inside is not None:
            return inside
    best, best_length = None, -1
    for number, path in entries:
        if loc[: len(path)] == path and len(path) > best_length:
            best, best_length = number, len(path)
    return best


_TABLES = ("sweep", "events", "rules", "close", "schedule")
_MODELS: Mapping[str, type[BaseModel]] = {
    "sweep": SweepConfig,
    "events": EventsConfig,
    "close": CloseConfig,
    "schedule": ScheduleConfig,
    "sweep.queues": QueuesConfig,
}


def _known_keys(table: str) -> str:
    if table.startswith("rules."):
        return ", ".join(RuleConfig.model_fields)
    model = _MODELS.get(table)
    return ", ".join(model.model_fields) if model else ""


def _lookup(data: Mapping[str, Any], loc: tuple[str, ...]) -> Any:
    value: Any = data
    for part in loc:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _problem(error: ErrorDetails) -> str:
    kind, given = error["type"], error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {given!r}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {given!r}"
    if kind == "string_type":
        return f"expected a string, got {given!r}"
    if kind in ("tuple_type", "list_type"):
        return f'expected a list such as ["a", "b"], got {given!r}'
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a table, got {given!r}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}, got {given!r}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}, got {given!r}"
    return str(error["msg"])


def _shown(part: str) -> str:
    """A key as TOML writes it: bare when it can be, else quoted (a key " " must not read as nothing)."""
    if re.fullmatch(r"[A-Za-z0-9_-]+", part):
        return part
    # unicode stays readable; what is not printable (line separators included) is escaped: one line
    quoted = json.dumps(part, ensure_ascii=False)
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in quoted)


def _describe(error: ErrorDetails, text: str, data: Mapping[str, Any], filename: str) -> tuple[int, str]:
    loc = tuple(str(part) for part in error["loc"] if isinstance(part, str))
    depth = 2 if loc[:1] == ("rules",) else 1
    unknown = error["type"] == "extra_forbidden"
    given = _lookup(data, loc)
    whole_table = unknown and isinstance(given, Mapping) and len(loc) <= depth
    line = _locate(text, loc, whole_table=whole_table) or 1
    if whole_table:
        first_key = next(iter(given), None) if isinstance(given, Mapping) else None
        where = f"[{'.'.join(map(_shown, loc))}]" + (f" {_shown(str(first_key))}" if first_key else "")
        if loc[:1] == ("rules",):
            what = f"unknown rule {loc[-1]!r} (rules: {', '.join(RULE_ORDER)})"
        else:
            what = f"unknown table (tables: {', '.join(_TABLES)})"
        return line, f"{filename}:{line}: {where}: {what}"
    if len(loc) <= 1:
        # A key outside every table.
        tables = "[sweep], [events], [rules.<name>], [close], [schedule]"
        what = f"unknown key (settings belong in a table: {tables})"
        return (
            line,
            f"{filename}:{line}: {'.'.join(map(_shown, loc))}: {what if unknown else _problem(error)}",
        )
    table, key = ".".join(map(_shown, loc[:depth])), ".".join(map(_shown, loc[depth:]))
    if unknown:
        container = ".".join(loc[:-1])
        known = _known_keys(container)
        what = "unknown key" + (f" (known: {known})" if known else "")
    else:
        what = _problem(error)
    return line, f"{filename}:{line}: [{table}] {key}: {what}"
