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
from session_reaper.config.orgs import (
    GLOBAL_SWEEP_KEYS,
    OVERRIDABLE,
    Misplaced,
    OrgConfig,
    OrgTables,
    build_orgs,
    inherited,
    merged_orgs,
)
from session_reaper.config.settings import Settings
from session_reaper.config.tables import (
    CONFIG_ENV,
    DEFAULT_FILE,
    CloseConfig,
    ConsoleConfig,
    EventsConfig,
    QueuesConfig,
    RuleConfig,
    ScheduleConfig,
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
    top = {key: value for key, value in data.items() if key != "orgs"}
    errors: list[ErrorDetails] = []
    settings = tables = None
    try:
        settings = Settings.model_validate(top)
    except ValidationError as exc:
        errors.extend(exc.errors())
    if "orgs" in data:
        raw = data["orgs"]
        merged = merged_orgs(raw, top) if isinstance(raw, Mapping) else raw
        try:
            tables = OrgTables.model_validate(merged)
        except ValidationError as exc:
            for error in exc.errors():
                loc = tuple(part for part in error["loc"] if isinstance(part, str))
                if not (isinstance(raw, Mapping) and inherited(loc, raw)):
                    errors.append({**error, "loc": ("orgs", *error["loc"])})
    if errors or settings is None:
        problems = sorted((_describe(error, text, data, filename) for error in errors), key=lambda p: p[0])
        raise ConfigError("\n".join(message for _, message in problems)) from None
    if tables is not None and tables.root:
        where = {
            name: {
                key: f"{filename}:{_locate(text, ('orgs', name, key)) or 1}" for key in OrgConfig.model_fields
            }
            for name, org in tables.root.items()
        }
        settings._orgs = build_orgs(tables, settings, where)
        if settings.sweep.mode == "events":
            # one socket and picture per organization is not built yet: say so rather than poll silently
            line = _locate(text, ("sweep", "mode")) or 1
            raise ConfigError(
                f'{filename}:{line}: [sweep] mode: "events" is not supported with [orgs.NAME] tables yet'
                ' (use mode = "poll" with organizations)'
            )
    return settings


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
    if loc[:1] == ("orgs",) and len(loc) > 1 and best_length < 2:
        # an organization with no [orgs.NAME] header of its own: its first table ([orgs.NAME.sweep])
        return next((n for n, path in entries if path[:2] == loc[:2]), best)
    return best


_TABLES = ("sweep", "events", "rules", "close", "schedule", "console", "orgs")
_MODELS: Mapping[str, type[BaseModel]] = {
    "sweep": SweepConfig,
    "events": EventsConfig,
    "close": CloseConfig,
    "console": ConsoleConfig,
    "schedule": ScheduleConfig,
    "sweep.queues": QueuesConfig,
}


def _known_keys(table: tuple[str, ...]) -> str:
    if table[:1] == ("orgs",):
        if len(table) == 2:
            return ", ".join(OrgConfig.model_fields)
        known = _known_keys(table[2:])
        return ", ".join(
            k for k in known.split(", ") if not (table[2:] == ("sweep",) and k in GLOBAL_SWEEP_KEYS)
        )
    if table[:1] == ("rules",):
        return ", ".join(RuleConfig.model_fields)
    model = _MODELS.get(".".join(table))
    return ", ".join(model.model_fields) if model else ""


def _depth(loc: tuple[str, ...]) -> int:
    """How many parts of `loc` name its table: [rules.idle] after, [orgs.acme.sweep] max_closes."""
    if loc[:1] == ("orgs",):
        if len(loc) <= 2:
            return len(loc) - 1  # `orgs = 1`: a key; `[orgs] acme = 1`: a key of [orgs]
        return 4 if loc[2] == "rules" else 3 if loc[2] in OVERRIDABLE else 2
    return 2 if loc[:1] == ("rules",) else 1


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
    if isinstance(given, Misplaced):
        return given.reason
    if kind == "missing":
        return "required"
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
    if loc[:1] == ("orgs",) and loc[-1:] == ("[key]",):  # the name of an organization
        loc = loc[:-1]
        line = _locate(text, loc) or 1
        return line, f"{filename}:{line}: [{'.'.join(map(_shown, loc))}]: {_problem(error)}"
    depth = _depth(loc)
    unknown = error["type"] == "extra_forbidden"
    given = _lookup(data, loc)
    in_org = loc[:1] == ("orgs",) and len(loc) == 3  # [orgs.acme.colour]: a table that is no table
    whole_table = unknown and isinstance(given, Mapping) and (len(loc) <= depth or in_org)
    line = _locate(text, loc, whole_table=whole_table) or 1
    if whole_table:
        first_key = next(iter(given), None) if isinstance(given, Mapping) else None
        where = f"[{'.'.join(map(_shown, loc))}]" + (f" {_shown(str(first_key))}" if first_key else "")
        if loc[-2:-1] == ("rules",):
            what = f"unknown rule {loc[-1]!r} (rules: {', '.join(RULE_ORDER)})"
        else:
            tables = OVERRIDABLE if loc[:1] == ("orgs",) else _TABLES
            what = f"unknown table (tables: {', '.join(tables)})"
        return line, f"{filename}:{line}: {where}: {what}"
    if len(loc) <= 1:
        # A key outside every table.
        listed = "[sweep], [events], [rules.<name>], [close], [schedule], [console], [orgs.<name>]"
        what = f"unknown key (settings belong in a table: {listed})"
        return (
            line,
            f"{filename}:{line}: {'.'.join(map(_shown, loc))}: {what if unknown else _problem(error)}",
        )
    table, key = ".".join(map(_shown, loc[:depth])), ".".join(map(_shown, loc[depth:]))
    if unknown:
        known = _known_keys(loc[:-1])
        what = "unknown key" + (f" (known: {known})" if known else "")
    else:
        what = _problem(error)
    return line, f"{filename}:{line}: [{table}] {key}: {what}"
