"""Config fuzzing: any TOML document and any environment ends in settings or in a clear exit 2.

hypothesis writes documents from the real tables and keys mixed with unknown ones, values of every
TOML type (wrong types, bad durations, bad time zones, bad business hours, huge and non-finite
numbers, unicode, nested junk) and raw junk lines; environments with the GENESYSCLOUD_* variables
present, absent or malformed and SESSION_REAPER_CONFIG naming the file, a missing file or a directory.
The loader must answer with Settings or a ConfigError whose every line says `file:line:` and the key;
the command (Typer's CliRunner in-process, and a few real processes) must end in exit 0 or exit 2 with
that message, never a traceback, and on exit 2 never a request to the platform: the credentials point
at the emulator and its request log is read.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from session_reaper.commands.cli import app
from session_reaper.config import (
    CONFIG_ENV,
    ENV_API_URL,
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ENV_LOGIN_URL,
    ENV_REGION,
    GLOBAL_SWEEP_KEYS,
    ConfigError,
    Settings,
    parse_settings,
)
from session_reaper.config.orgs import OWN_KEYS

FILE = "fuzz.toml"
KNOWN: dict[str, tuple[str, ...]] = {
    "sweep": tuple(k for k in type(Settings().sweep).model_fields if k != "ledger"),
    "close": tuple(type(Settings().close).model_fields),
    "schedule": tuple(type(Settings().schedule).model_fields),
    **{f"rules.{name}": ("enabled", "after", "after_hours") for name, _ in Settings().rules.items()},
    "sweep.queues": ("include", "exclude"),
}
# Organizations: their own keys, and overrides of every policy table (the global sweep keys included:
# they must be refused with a located line like any other problem).
ORG_NAMES = ("acme", "b-2", "Zeta_3")
ORG_TABLES: dict[str, tuple[str, ...]] = {
    **{f"orgs.{org}": OWN_KEYS for org in ORG_NAMES},
    **{
        f"orgs.{org}.{table}": keys
        for org in ORG_NAMES
        for table, keys in (
            ("sweep", (*KNOWN["sweep"], *GLOBAL_SWEEP_KEYS)),
            ("close", KNOWN["close"]),
            ("schedule", KNOWN["schedule"]),
            ("rules.idle", KNOWN["rules.idle"]),
            ("rules.parked", KNOWN["rules.parked"]),
        )
    },
}
ENV_NAMES = ("ACME_ID", "ACME_SECRET", "B_ID", "B_SECRET")
JUNK_NAMES = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12
)
BARE = st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True)


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _quoted(name)


def _float(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


DURATIONS = st.one_of(
    st.sampled_from(
        ["30m", "0m", "1h30m", "7d", "90s", "500ms", "5ms", "", " ", "abc", "-5m", "1.5h", "99999999999999d"]
    ),
    st.from_regex(r"[0-9]{1,20}(ms|[smhdw])?", fullmatch=True),
)
ZONES = st.sampled_from(
    ["UTC", "Europe/Paris", "America/Los_Angeles", "Mars/Olympus", "", "../etc", "UTC\x00"]
)
HOURS = st.sampled_from(
    [
        "mon-fri 08:00-18:00",
        "",
        "sat 10:00-14:00, sun 00:00-24:00",
        "fri-mon 25:00-26:00",
        "mon 18:00-08:00",
        "x",
    ]
)
SCALARS = st.one_of(
    st.booleans().map(lambda b: "true" if b else "false"),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(_float),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20).map(_quoted),
    DURATIONS.map(_quoted),
    ZONES.map(_quoted),
    HOURS.map(_quoted),
    st.just("1979-05-27T07:32:00Z"),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda items: "[" + ", ".join(items) + "]"),
        st.dictionaries(BARE, inner, max_size=3).map(
            lambda d: "{ " + ", ".join(f"{k} = {v}" for k, v in d.items()) + " }"
        ),
    ),
    max_leaves=6,
)


def _org_values(api_url: str | None) -> dict[str, st.SearchStrategy[str]]:
    """Values that are often right for an organization's own keys (junk from VALUES otherwise).

    With `api_url` (the command's test) no organization ever points at a real host: only the
    emulator's URL or junk, and regions that resolve to nothing.
    """
    urls = [api_url] if api_url else ["http://127.0.0.1:9", "https://api.mypurecloud.ie"]
    regions = ["moon-1", ""] if api_url else ["eu-west-1", "mypurecloud.ie", "moon-1", ""]
    env = st.sampled_from([*ENV_NAMES, "not a name", "", "ACME-ID"]).map(_quoted)
    return {
        "client_id_env": env,
        "client_secret_env": env,
        "api_url": st.sampled_from([*urls, "not a url", ""]).map(_quoted),
        "login_url": st.sampled_from([*urls, "ftp://x"]).map(_quoted),
        "region": st.sampled_from(regions).map(_quoted),
        "requests_per_minute": st.sampled_from(["300", "0", "100000", '"fast"']),
    }


@st.composite
def documents(draw: st.DrawFn, api_url: str | None = None) -> str:
    lines: list[str] = []
    if draw(st.booleans()):
        lines.append(f"{_key(draw(JUNK_NAMES))} = {draw(VALUES)}")  # a key outside every table
    tables = {**KNOWN, **ORG_TABLES}
    org_values = _org_values(api_url)
    for _ in range(draw(st.integers(0, 5))):
        known = draw(st.integers(0, 2))
        if known == 2:
            table = draw(st.sampled_from(sorted(tables)))
        elif known == 1:
            org = draw(st.one_of(st.sampled_from(ORG_NAMES), JUNK_NAMES))
            table = f"orgs.{_key(org)}"  # an organization, perhaps with a name that is no name
        else:
            table = ".".join(_key(p) for p in draw(st.lists(JUNK_NAMES, min_size=1, max_size=3)))
        lines.append(f"[{table}]")
        keys = tables.get(table, OWN_KEYS if known == 1 else ())
        for _ in range(draw(st.integers(0, 4))):
            name = draw(st.sampled_from(keys)) if keys and draw(st.booleans()) else draw(JUNK_NAMES)
            own = table.count(".") == 1 and name in org_values and draw(st.booleans())
            lines.append(f"{_key(name)} = {draw(org_values[name] if own else VALUES)}")
    if draw(st.integers(0, 9)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.text(max_size=30)).replace("\r", ""))
    return "\n".join(lines) + "\n"


# A problem line: `file:N: ` then the key it is about ([table] key, a bare key) or a TOML syntax error.
_NAME = r'(?:"(?:[^"\\]|\\.)*"|[A-Za-z0-9_-]+)'  # a key as the message shows it: bare or quoted
PROBLEM = re.compile(
    rf"^{re.escape(FILE)}:(\d+): "
    rf"(\[{_NAME}(?:\.{_NAME})*\]( {_NAME}(?:\.{_NAME})*)?: |{_NAME}: |TOML syntax error: )\S"
)


def _check_problem(message: str, text: str) -> None:
    lines = message.splitlines()
    assert lines, "an empty error message"
    for line in lines:
        found = PROBLEM.match(line)
        assert found, f"does not say file:line: key: {line!r}"
        assert 1 <= int(found.group(1)) <= max(1, text.count("\n") + 1), line


@settings(max_examples=400, derandomize=True, deadline=None, database=None)
@given(documents())
def test_any_document_gives_settings_or_a_located_error(text: str) -> None:
    try:
        loaded = parse_settings(text, FILE)
    except ConfigError as exc:
        event("refused")
        _check_problem(str(exc), text)
        return
    event("accepted")
    # what the rest of the program asks of valid settings must work too
    loaded.policy()
    loaded.close_settings()
    for org in loaded.orgs:
        event("accepted with organizations")
        org.settings.policy()
        org.settings.close_settings()
        assert org.settings.sweep.ledger == loaded.sweep.ledger  # one ledger for all
        assert org.settings.sweep.requests_per_minute == org.requests_per_minute


# Overrides that are valid, to see them merged: (table, key) -> TOML values
VALID: dict[tuple[str, str], st.SearchStrategy[str]] = {
    ("sweep", "max_closes"): st.integers(0, 500).map(str),
    ("sweep", "apply"): st.sampled_from(["true", "false"]),
    ("sweep", "channels"): st.sampled_from(['["webmessaging"]', '["sms", "open"]']),
    ("rules.idle", "after"): st.sampled_from(['"20m"', '"1h30m"', '"90s"']),
    ("rules.parked", "enabled"): st.sampled_from(["true", "false"]),
    ("close", "closing_text"): st.text(alphabet="abc é,.?", max_size=10).map(_quoted),
    ("schedule", "timezone"): st.sampled_from(['"UTC"', '"Europe/Paris"']),
}


@st.composite
def policies(draw: st.DrawFn) -> dict[str, dict[str, str]]:
    """Some valid keys of the policy tables, as TOML values by table."""
    chosen = draw(st.lists(st.sampled_from(sorted(VALID)), unique=True, max_size=4))
    tables: dict[str, dict[str, str]] = {}
    for table, key in chosen:
        tables.setdefault(table, {})[key] = draw(VALID[(table, key)])
    return tables


def _tables_text(prefix: str, tables: dict[str, dict[str, str]]) -> list[str]:
    lines = []
    for table, keys in tables.items():
        lines.append(f"[{prefix}{table}]")
        lines.extend(f"{k} = {v}" for k, v in keys.items())
    return lines


@st.composite
def org_documents(
    draw: st.DrawFn,
) -> tuple[str, dict[str, dict[str, dict[str, str]]], dict[str, dict[str, str]]]:
    top = draw(policies())
    names = draw(st.lists(st.sampled_from(ORG_NAMES), min_size=1, max_size=3, unique=True))
    overrides = {name: draw(policies()) for name in names}
    lines = _tables_text("", top)
    for index, name in enumerate(names):
        lines += [f"[orgs.{name}]", f'client_id_env = "ID_{index}"', f'client_secret_env = "SECRET_{index}"']
        lines.append(draw(st.sampled_from(['region = "eu-west-1"', 'api_url = "http://127.0.0.1:9"'])))
        lines += _tables_text(f"orgs.{name}.", overrides[name])
    return "\n".join(lines) + "\n", overrides, top


def _value(settings: Settings, table: str, key: str) -> object:
    holder = (
        settings.rules.get(table.split(".")[1]) if table.startswith("rules.") else getattr(settings, table)
    )
    return getattr(holder, key)


@settings(max_examples=150, derandomize=True, deadline=None, database=None)
@given(org_documents())
def test_each_organization_is_the_top_level_policy_with_its_own_overrides(
    case: tuple[str, dict[str, dict[str, dict[str, str]]], dict[str, dict[str, str]]],
) -> None:
    text, overrides, _top = case
    loaded = parse_settings(text, FILE)
    assert [org.name for org in loaded.orgs] == list(overrides)
    for org in loaded.orgs:
        own = overrides[org.name]
        for table, key in VALID:
            # what the override file alone would say, or else what the top-level file alone says
            if key in own.get(table, {}):
                alone = parse_settings("\n".join(_tables_text("", {table: {key: own[table][key]}})) + "\n")
                expected = _value(alone, table, key)
            else:
                expected = _value(loaded, table, key)
            assert _value(org.settings, table, key) == expected, (org.name, table, key)
        assert org.settings.orgs == ()


@pytest.mark.parametrize("separator", ["\x85", "\u2028", "\u2029"])
def test_line_numbers_count_toml_lines_only(separator: str) -> None:
    # found by the fuzzer: str.splitlines() also breaks at these, and every later line was misnumbered
    text = f'[sweep]\n"a{separator}b" = 1\n[close]\nannotate = "yes"\n'
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, FILE)
    assert "fuzz.toml:4: [close] annotate: expected true or false" in str(caught.value)


# ------------------------------------------------------------------------------------ the command


# The emulator's default client for one organization, a second client for the other (two orgs of
# one client are refused).
ORG_ENV = {
    "ACME_ID": "emulator",
    "ACME_SECRET": "emulator-secret",
    "B_ID": "fuzz-b",
    "B_SECRET": "fuzz-b-secret",
}


def _environments(base_url: str, config: Path, tmp: Path) -> st.SearchStrategy[dict[str, str]]:
    def variable(good: str, bad: list[str]) -> st.SearchStrategy[str | None]:
        return st.one_of(st.just(good), st.none(), st.sampled_from(bad))

    return st.fixed_dictionaries(
        {
            ENV_CLIENT_ID: variable("emulator", ["", "  "]),
            ENV_CLIENT_SECRET: variable("emulator-secret", ["", " "]),
            ENV_API_URL: variable(base_url, ["", "not a url", "ftp://x", "http://", "ünïcode"]),
            ENV_LOGIN_URL: st.one_of(st.none(), st.sampled_from(["", "nope", "http:// space"])),
            ENV_REGION: st.one_of(st.none(), st.sampled_from(["us-east-1", "", "moon-1", "x" * 300, "ü"])),
            **{name: variable(value, ["", " "]) for name, value in ORG_ENV.items()},
            CONFIG_ENV: st.one_of(
                st.just(str(config)),
                st.just(str(tmp / "missing.toml")),
                st.just(str(tmp)),  # a directory
                st.just(""),
            ),
        }
    ).map(lambda env: {k: v for k, v in env.items() if v is not None})


def _judge_exit(code: int, stderr: str, stdout: str, requests: list[Any]) -> None:
    assert "Traceback" not in stderr + stdout
    assert code in (0, 2), (code, stderr, stdout)
    if code == 2:
        assert stderr.startswith("error: "), stderr
        assert requests == [], f"a request was sent although the settings were refused: {requests}"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("config-fuzz")


@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_the_command_ends_in_exit_0_or_a_clear_exit_2(
    data: st.DataObject, _emulator_session: Any, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = _emulator_session.fresh()
    config = workdir / FILE
    emulator.add_client("fuzz-b", "fuzz-b-secret", ["*"], rateLimitPerMinute=100_000)
    text = data.draw(documents(emulator.base_url), label="document")
    config.write_text(f'[sweep]\nledger = "sqlite:///{workdir / "ledger.db"}"\n' + text, encoding="utf-8")
    env = data.draw(_environments(emulator.base_url, config, workdir), label="environment")
    explicit = data.draw(st.booleans(), label="--config")
    for name in (
        ENV_CLIENT_ID,
        ENV_CLIENT_SECRET,
        ENV_API_URL,
        ENV_LOGIN_URL,
        ENV_REGION,
        CONFIG_ENV,
        *ORG_ENV,
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(workdir)
    args = ["sweep", "--json", *(["--config", str(config)] if explicit else [])]
    result = CliRunner().invoke(app, args, env=env, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"the command raised {result.exception!r}") from result.exception
    event(f"exit {result.exit_code}")  # --hypothesis-show-statistics: both outcomes are reached
    _judge_exit(result.exit_code, result.stderr, result.stdout, emulator.requests())


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[sweep]\ninterval = 5\n", r"fuzz\.toml:2: \[sweep\] interval: "),
        ('[rules.idle]\nafter = "99999999999999d"\n', r"fuzz\.toml:2: \[rules\.idle\] after: "),
        ('[schedule]\ntimezone = "Mars/Olympus"\n', r"fuzz\.toml:2: \[schedule\] timezone: "),
        ("[sweep\n", r"fuzz\.toml:1: TOML syntax error"),
        ('["çà"]\nx = 1\n', r'fuzz\.toml:2: \["çà"\] x: unknown table'),
        ('[sweep]\n"a\\u2028b" = 1\n', r'fuzz\.toml:\d: \[sweep\] "a\\u2028b": unknown key'),
    ],
)
def test_a_real_process_refuses_a_bad_file_with_one_located_line(
    text: str, named: str, emulator: Any, workdir: Path
) -> None:
    config = workdir / FILE
    config.write_text(text, encoding="utf-8")
    env = {
        "PATH": "/usr/bin:/bin",
        ENV_CLIENT_ID: "emulator",
        ENV_CLIENT_SECRET: "emulator-secret",
        ENV_API_URL: emulator.base_url,
    }
    done = subprocess.run(
        [sys.executable, "-m", "session_reaper.commands.cli", "sweep", "--json", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        cwd=workdir,
        timeout=60,
    )
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr
    assert re.search(named, done.stderr), done.stderr
    assert emulator.requests() == []
