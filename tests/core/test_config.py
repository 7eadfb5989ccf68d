"""Settings: where they are read from, what they must contain, and how a mistake is reported."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from session_reaper.commands.cli import app
from session_reaper.commands.runtime import retry_policy
from session_reaper.config import (
    RETRY_BACKOFF_GROWTH,
    ConfigError,
    Credentials,
    CredentialsError,
    Settings,
    SweepConfig,
    load_settings,
    parse_settings,
)
from session_reaper.core.rules import Policy
from session_reaper.core.schedule import BusinessHours, Schedule, format_duration, parse_duration
from session_reaper.genesys.retries import RetryPolicy
from tools.configuration import reference_markdown
from tools.docs import WRITE

REPO = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("90s", timedelta(seconds=90)),
        ("1h30m", timedelta(minutes=90)),
        ("7d", timedelta(days=7)),
        ("0m", timedelta(0)),
        (" 1H 5M ", timedelta(minutes=65)),
        ("500ms", timedelta(milliseconds=500)),
        ("1s500ms", timedelta(milliseconds=1500)),
        ("5m5s", timedelta(minutes=5, seconds=5)),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "abc", "30", "5x", "m", "1h1h", "-5m", "1.5h", "thirty minutes", "ms", "0.5s", "1ms1ms"]
)
def test_bad_durations_say_how_to_write_one(text):
    with pytest.raises(ValueError, match=r"bad duration .*use e\.g\. 30m, 2h, 90s"):
        parse_duration(text)


@pytest.mark.parametrize("minutes", [0, 1, 59, 60, 90, 1440, 1441, 10081])
def test_format_duration_round_trips(minutes):
    value = timedelta(minutes=minutes)
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize(("millis", "text"), [(500, "500ms"), (1500, "1s500ms"), (60_020, "1m20ms")])
def test_format_duration_keeps_milliseconds(millis, text):
    value = timedelta(milliseconds=millis)
    assert (format_duration(value), parse_duration(text)) == (text, value)


# ------------------------------------------------------------------------------------------- loading


def test_no_file_anywhere_gives_the_defaults(tmp_path):
    settings = load_settings(environ={}, cwd=tmp_path)

    assert settings == Settings()
    assert settings.source is None


def test_an_empty_file_is_valid_and_gives_the_design_defaults(tmp_path):
    path = tmp_path / "empty.toml"
    path.write_text("")

    settings = load_settings(path, environ={})

    assert settings.source == path
    sweep, close = settings.sweep, settings.close
    assert (sweep.apply, sweep.interval, sweep.channels) == (False, timedelta(minutes=1), ("webmessaging",))
    assert (sweep.queues.include, sweep.queues.exclude) == ((), ())
    assert (sweep.exempt_attribute, sweep.respect_platform_timer) == ("reaper.exempt", True)
    assert (sweep.max_closes, sweep.max_teardowns, sweep.concurrency, sweep.requests_per_minute) == (
        200,
        20,
        8,
        300,
    )
    assert sweep.ledger == "sqlite:///session-reaper.db"
    assert (sweep.lookback, sweep.verify_timeout) == (timedelta(days=180), timedelta(seconds=30))
    assert sweep.retry_backoff == timedelta(milliseconds=500)
    assert {name: rule.after for name, rule in settings.rules.items()} == {
        "acw-stuck": timedelta(minutes=10),
        "customer-left": timedelta(minutes=5),
        "idle": timedelta(minutes=30),
        "queue-abandoned": timedelta(minutes=20),
        "flow-stuck": timedelta(minutes=60),
        "orphaned": timedelta(minutes=15),
        "parked": timedelta(hours=72),
    }
    enabled = {name for name, rule in settings.rules.items() if rule.enabled}
    assert enabled == {name for name, _ in settings.rules.items()} - {"parked"}  # parked: opt-in
    assert all(rule.after_hours is None for _, rule in settings.rules.items())
    assert (close.warn_before, close.wrapup_code, close.annotate, close.allow_teardown) == (
        timedelta(0),
        "",
        True,
        True,
    )
    assert close.wrapup_notes == "Closed by session-reaper: {rule}"
    assert (settings.schedule.timezone, settings.schedule.business_hours) == ("UTC", "mon-fri 08:00-18:00")


def test_lookup_order_flag_then_variable_then_working_directory(tmp_path):
    flag, named, local = tmp_path / "flag.toml", tmp_path / "named.toml", tmp_path / "session-reaper.toml"
    flag.write_text("[sweep]\nmax_closes = 1\n")
    named.write_text("[sweep]\nmax_closes = 2\n")
    local.write_text("[sweep]\nmax_closes = 3\n")
    env = {"SESSION_REAPER_CONFIG": str(named)}

    assert load_settings(flag, environ=env, cwd=tmp_path).sweep.max_closes == 1
    assert load_settings(None, environ=env, cwd=tmp_path).sweep.max_closes == 2
    assert load_settings(None, environ={}, cwd=tmp_path).sweep.max_closes == 3
    assert load_settings(None, environ={"SESSION_REAPER_CONFIG": ""}, cwd=tmp_path).sweep.max_closes == 3


def test_a_missing_named_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.toml: no such file$"):
        load_settings(tmp_path / "nope.toml", environ={})
    with pytest.raises(ConfigError, match=r"gone\.toml: no such file \(named by \$SESSION_REAPER_CONFIG\)"):
        load_settings(environ={"SESSION_REAPER_CONFIG": str(tmp_path / "gone.toml")}, cwd=tmp_path)


def test_a_full_file(tmp_path):
    text = """
[sweep]
apply = true
channels = ["WebMessaging", "sms"]
queues = { include = ["q1"], exclude = ["q2"] }
verify_timeout = "5s"
retry_backoff = "2s"

[rules.idle]
after = "45m"
after_hours = "10m"

[rules.orphaned]
enabled = false

[close]
warn_before = "2m"
wrapup_code = "code-abandoned"

[schedule]
timezone = "America/Los_Angeles"
business_hours = "mon-fri 08:00-18:00, sat 10:00-14:00"
"""
    settings = parse_settings(text)
    policy = settings.policy()

    assert settings.sweep.apply is True
    assert settings.sweep.retry_backoff == timedelta(seconds=2)
    assert policy.channels == frozenset({"webmessaging", "sms"})
    assert (policy.queue_include, policy.queue_exclude) == (frozenset({"q1"}), frozenset({"q2"}))
    assert policy.rules["idle"].after == timedelta(minutes=45)
    assert policy.rules["idle"].after_hours == timedelta(minutes=10)
    assert policy.rules["orphaned"].enabled is False
    assert policy.rules["orphaned"].after == timedelta(minutes=15)  # its own default is kept
    assert (policy.warn_before, policy.wrapup_code) == (timedelta(minutes=2), "code-abandoned")
    assert policy.schedule is not None and len(policy.schedule.hours.windows) == 2
    close = settings.close_settings()
    assert (close.warn_before, close.wrapup_code, close.allow_teardown) == (
        timedelta(minutes=2),
        "code-abandoned",
        True,
    )


def test_defaults_give_the_default_policy():
    policy = Settings().policy()

    assert policy == Policy(rules=policy.rules, schedule=policy.schedule)
    assert dict(policy.rules) == dict(Policy().rules)


def test_apply_on_the_command_line_wins():
    settings = parse_settings("[sweep]\napply = false\n")

    applied = settings.with_apply(True)

    assert applied.sweep.apply is True and settings.sweep.apply is False
    assert applied.with_apply(False).sweep.apply is False


# ------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[sweep]\ncolour = "blue"\n', "session-reaper.toml:2: [sweep] colour: unknown key (known: apply, "),
        (
            '# policy\n\n[sweep]\napply = true\n\n\n[rules.idle]\nafter = "abc"\n',
            "session-reaper.toml:8: [rules.idle] after: bad duration 'abc' (use e.g. 30m, 2h, 90s)",
        ),
        ('[close]\nwarn_before = "5x"\n', "session-reaper.toml:2: [close] warn_before: bad duration '5x'"),
        (
            '[rules.nonsense]\nafter = "5m"\n',
            "session-reaper.toml:2: [rules.nonsense] after: unknown rule 'nonsense'",
        ),
        (
            "[rules.idle]\nafter = 30\n",
            'session-reaper.toml:2: [rules.idle] after: expected a duration string such as "30m"',
        ),
        (
            "[rules.idle]\ncolour = 1\n",
            "session-reaper.toml:2: [rules.idle] colour: unknown key (known: enabled, after",
        ),
        (
            '[sweep]\napply = "yes"\n',
            "session-reaper.toml:2: [sweep] apply: expected true or false, got 'yes'",
        ),
        (
            '[sweep]\nmax_closes = "200"\n',
            "session-reaper.toml:2: [sweep] max_closes: expected a whole number",
        ),
        (
            "[sweep]\nconcurrency = 0\n",
            "session-reaper.toml:2: [sweep] concurrency: must be at least 1, got 0",
        ),
        ('[sweep]\nchannels = "sms"\n', "session-reaper.toml:2: [sweep] channels: expected a list"),
        (
            '[sweep]\nverify_timeout = "0s"\n',
            "session-reaper.toml:2: [sweep] verify_timeout: must be more than 0",
        ),
        (
            '[sweep]\nretry_backoff = "5ms"\n',
            "session-reaper.toml:2: [sweep] retry_backoff: must be from 10ms to 15s, got 5ms",
        ),
        (
            '[sweep]\nretry_backoff = "1m"\n',
            "session-reaper.toml:2: [sweep] retry_backoff: must be from 10ms to 15s, got 1m",
        ),
        (
            "[sweep]\nretry_backoff = 0.5\n",
            'session-reaper.toml:2: [sweep] retry_backoff: expected a duration string such as "30m"',
        ),
        (
            '[sweep]\nretry_backoff = "0.5s"\n',
            "session-reaper.toml:2: [sweep] retry_backoff: bad duration '0.5s'",
        ),
        (
            "[sweep]\nqueues = { include = [], exlude = [] }\n",
            "session-reaper.toml:2: [sweep] queues.exlude: unknown key (known: include, exclude)",
        ),
        ("[sweep.queues]\nexlude = []\n", "session-reaper.toml:2: [sweep] queues.exlude: unknown key"),
        ("[colours]\nred = 1\n", "session-reaper.toml:2: [colours] red: unknown table"),
        ("apply = true\n", "session-reaper.toml:1: apply: unknown key (settings belong in a table"),
        (
            '[schedule]\ntimezone = "Mars/Olympus"\n',
            "session-reaper.toml:2: [schedule] timezone: unknown time zone",
        ),
        (
            '[schedule]\nbusiness_hours = "weekdays 9-5"\n',
            "session-reaper.toml:2: [schedule] business_hours: bad business hours 'weekdays 9-5'",
        ),
        (
            '[close]\nwrapup_notes = "{who}"\n',
            "session-reaper.toml:2: [close] wrapup_notes: unknown placeholder {who}",
        ),
        ('[close]\n"warn_before" = "1y"\n', "session-reaper.toml:2: [close] warn_before: bad duration"),
    ],
)
def test_errors_name_the_file_the_line_and_the_key(text, message):
    with pytest.raises(ConfigError) as raised:
        parse_settings(text, "session-reaper.toml")

    assert str(raised.value).startswith(message), str(raised.value)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[sweep]\napply = \n", 2),
        ("[sweep]\napply = true\napply = false\n", 3),
        ('[sweep]\n\n\nledger = "unterminated\n', 4),
        ("[sweep\n", 1),
    ],
)
def test_toml_syntax_errors_name_the_line(text, line):
    with pytest.raises(ConfigError, match=rf"^session-reaper\.toml:{line}: TOML syntax error: "):
        parse_settings(text, "session-reaper.toml")


def test_every_problem_is_reported_in_file_order():
    text = '[sweep]\ncolour = "blue"\n[rules.idle]\nafter = "x"\n[close]\nannotate = 1\n'

    with pytest.raises(ConfigError) as raised:
        parse_settings(text, "f.toml")

    assert [line.split(" ")[0] for line in str(raised.value).splitlines()] == [
        "f.toml:2:",
        "f.toml:4:",
        "f.toml:6:",
    ]


def test_a_key_inside_a_multiline_string_is_not_mistaken_for_one():
    text = '[close]\nclosing_text = """\ncolour = 1\n"""\ncolour = 2\n'

    with pytest.raises(ConfigError, match=r"^f\.toml:5: \[close\] colour: unknown key"):
        parse_settings(text, "f.toml")


def test_the_error_names_the_file_as_given(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text('\n[sweep]\ncolour = "blue"\n')

    with pytest.raises(ConfigError, match=rf"^{path}:3: \[sweep\] colour: unknown key"):
        load_settings(path, environ={})


# ------------------------------------------------------------------------------------ retry backoff


def test_the_default_retry_backoff_is_the_transports_own_policy():
    assert retry_policy(Settings().sweep) == RetryPolicy()
    assert (RetryPolicy().backoff_base, RetryPolicy().backoff_cap) == (0.5, 8.0)  # 16 times the first


def test_retry_backoff_sets_the_first_wait_and_the_longest_and_nothing_else():
    policy = retry_policy(parse_settings('[sweep]\nretry_backoff = "20ms"\n').sweep)

    assert (policy.backoff_base, policy.backoff_cap) == pytest.approx((0.02, 0.02 * RETRY_BACKOFF_GROWTH))
    assert policy == replace(RetryPolicy(), backoff_base=policy.backoff_base, backoff_cap=policy.backoff_cap)
    assert all(0.01 <= policy.backoff(1) <= 0.02 for _ in range(50))  # equal jitter: half to all of it
    assert all(0.16 <= policy.backoff(9) <= 0.32 for _ in range(50))  # capped
    assert f"up to {RETRY_BACKOFF_GROWTH} times it" in SweepConfig.model_fields["retry_backoff"].description


def test_a_bad_retry_backoff_stops_the_command_with_exit_2_naming_the_key(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text('[sweep]\nretry_backoff = "0s"\n')

    result = CliRunner().invoke(app, ["sweep", "--config", str(path)], env={}, catch_exceptions=False)

    assert result.exit_code == 2, result.output
    assert f"{path}:2: [sweep] retry_backoff: must be from 10ms to 15s" in result.stderr


# ----------------------------------------------------------------------------------------- schedule


@pytest.mark.parametrize(
    ("local", "open_"),
    [
        ("2026-11-02 07:59", False),  # Monday
        ("2026-11-02 08:00", True),
        ("2026-11-02 17:59", True),
        ("2026-11-02 18:00", False),
        ("2026-11-06 12:00", True),  # Friday
        ("2026-11-07 11:00", True),  # Saturday window
        ("2026-11-07 14:00", False),
        ("2026-11-08 11:00", False),  # Sunday
    ],
)
def test_business_hours_windows(local, open_):
    hours = BusinessHours.parse("mon-fri 08:00-18:00, sat 10:00-14:00")

    assert hours.contains(datetime.fromisoformat(local)) is open_


def test_overnight_and_wrapping_windows():
    night = BusinessHours.parse("fri-mon 22:00-06:00")

    assert night.contains(datetime.fromisoformat("2026-11-06 23:00"))  # Friday night
    assert night.contains(datetime.fromisoformat("2026-11-10 05:00"))  # Tuesday small hours (Monday's night)
    assert not night.contains(datetime.fromisoformat("2026-11-11 05:00"))  # Wednesday
    assert BusinessHours.parse("mon 00:00-24:00").contains(datetime.fromisoformat("2026-11-02 23:59"))


@pytest.mark.parametrize(
    "text", ["mon-fri", "mon-fri 8-18", "mon-fri 08:00-25:00", "xyz 08:00-09:00", "mon 09:00-09:00"]
)
def test_bad_business_hours(text):
    with pytest.raises(ValueError):
        BusinessHours.parse(text)


def test_business_time_follows_dst_in_the_named_zone():
    la = Schedule.parse("America/Los_Angeles", "mon-fri 08:00-18:00")

    # 08:30 local both times; UTC offset -7 before 1 Nov 2026, -8 after.
    assert la.is_business_time(datetime(2026, 10, 27, 15, 30, tzinfo=UTC))
    assert la.is_business_time(datetime(2026, 11, 3, 16, 30, tzinfo=UTC))
    assert not la.is_business_time(datetime(2026, 11, 3, 15, 30, tzinfo=UTC))  # 07:30 PST
    assert Schedule.parse("UTC", "").is_business_time(datetime(2026, 11, 8, 3, 0, tzinfo=UTC))


# -------------------------------------------------------------------------------------- credentials

FULL_ENV = {
    "GENESYSCLOUD_OAUTHCLIENT_ID": "client-1",
    "GENESYSCLOUD_OAUTHCLIENT_SECRET": "s3cret-value",
    "GENESYSCLOUD_REGION": "mypurecloud.ie",
}


def test_credentials_from_the_environment():
    credentials = Credentials.from_env({**FULL_ENV, "GENESYSCLOUD_API_URL": "http://127.0.0.1:8089/"})

    assert (credentials.client_id, credentials.region) == ("client-1", "mypurecloud.ie")
    assert credentials.client_secret.get_secret_value() == "s3cret-value"
    assert credentials.api_url == "http://127.0.0.1:8089"
    assert credentials.login_url is None and credentials.access_token is None


def test_the_secret_is_never_shown():
    credentials = Credentials.from_env(FULL_ENV)

    assert "s3cret-value" not in repr(credentials)
    assert "s3cret-value" not in str(credentials)
    assert "s3cret-value" not in credentials.model_dump_json()


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("GENESYSCLOUD_OAUTHCLIENT_ID", "GENESYSCLOUD_OAUTHCLIENT_ID is not set"),
        ("GENESYSCLOUD_OAUTHCLIENT_SECRET", "GENESYSCLOUD_OAUTHCLIENT_SECRET is not set"),
        ("GENESYSCLOUD_REGION", "GENESYSCLOUD_REGION is not set"),
    ],
)
def test_missing_credentials_name_the_variable_and_no_secret(missing, named):
    env = {k: v for k, v in FULL_ENV.items() if k != missing}

    with pytest.raises(CredentialsError, match=named) as raised:
        Credentials.from_env(env)

    assert "s3cret-value" not in str(raised.value)
    assert isinstance(raised.value, ConfigError)  # the CLI maps it to exit 2


def test_an_api_url_stands_in_for_the_region_and_must_be_a_url():
    env = {k: v for k, v in FULL_ENV.items() if k != "GENESYSCLOUD_REGION"}

    assert Credentials.from_env({**env, "GENESYSCLOUD_API_URL": "https://gw.example"}).region is None
    with pytest.raises(CredentialsError, match="GENESYSCLOUD_LOGIN_URL must be a URL"):
        Credentials.from_env({**FULL_ENV, "GENESYSCLOUD_LOGIN_URL": "login.example"})


def test_an_access_token_replaces_the_client_credentials():
    credentials = Credentials.from_env(
        {"GENESYSCLOUD_ACCESS_TOKEN": "tok", "GENESYSCLOUD_REGION": "us-east-1"}
    )

    assert credentials.access_token is not None and credentials.access_token.get_secret_value() == "tok"
    assert credentials.client_id == ""


# ---------------------------------------------------------------------------------- reference doc


def test_docs_configuration_md_is_generated_from_the_settings():
    doc = REPO / "docs" / "configuration.md"

    assert doc.read_text() == reference_markdown(), f"docs/configuration.md is stale: {WRITE}"


def test_the_documented_defaults_file_loads_to_the_defaults():
    doc = reference_markdown()
    defaults = doc.split("## The defaults, as a file", 1)[1]  # the orgs section has an example block too
    example = defaults.split("```toml\n", 1)[1].split("```", 1)[0]

    assert parse_settings(example) == Settings()


def test_every_key_is_documented():
    doc = reference_markdown()

    for table in ("sweep", "close", "schedule"):
        for key in type(getattr(Settings(), table)).model_fields:
            assert f"| `{key}` |" in doc, key
    for rule in ("idle", "customer-left", "queue-abandoned", "flow-stuck", "orphaned", "acw-stuck"):
        assert f"| `{rule}` |" in doc


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-11-03T16:30:00Z", "2026-11-04T02:00:00Z"),  # Tue 08:30 PST -> 18:00 PST
        ("2026-11-04T02:00:00Z", "2026-11-04T08:00:00Z"),  # Tue 18:00 PST -> midnight (a candidate, safe)
        # Sat 13:00 PDT -> 18:00: every day's boundaries count (early is safe, late never is)
        ("2026-10-31T20:00:00Z", "2026-11-01T01:00:00Z"),
    ],
)
def test_next_change_is_the_next_boundary(now, expected):
    la = Schedule.parse("America/Los_Angeles", "mon-fri 08:00-18:00")

    assert la.next_change(datetime.fromisoformat(now)) == datetime.fromisoformat(expected)


def test_next_change_of_a_schedule_without_windows_is_never():
    assert Schedule.parse("UTC", "").next_change(datetime(2026, 11, 3, tzinfo=UTC)) is None
