"""`[orgs.NAME]` tables: each organization's client, host and budget, and its policy overrides merged.

Every problem is an exit 2 naming the file's line, the organization and the key, before a single
request: unknown keys, a global key overridden, a name that is no name, a missing host, two
organizations of one client (in the file, or in the environment), a variable that is not set.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from session_reaper.config import ConfigError, CredentialsError, Settings, parse_settings
from session_reaper.redaction import redact

FILE = "orgs.toml"
TWO = """\
[sweep]
max_closes = 10
queues = { include = ["q1"], exclude = ["q9"] }
ledger = "sqlite:///shared.db"

[rules.idle]
after = "30m"
after_hours = "2h"

[orgs.acme]
client_id_env = "ACME_ID"
client_secret_env = "ACME_SECRET"
region = "eu-west-1"
requests_per_minute = 120

[orgs.acme.sweep]
max_closes = 3
queues = { include = ["q2"] }

[orgs.acme.rules.idle]
after = "20m"

[orgs.acme.close]
closing_text = ""

[orgs.globex]
client_id_env = "GLOBEX_ID"
client_secret_env = "GLOBEX_SECRET"
api_url = "http://127.0.0.1:9/"

[orgs.globex.schedule]
timezone = "Europe/Paris"
"""
ENV = {
    "ACME_ID": "acme-client",
    "ACME_SECRET": "acme-secret-value",
    "GLOBEX_ID": "globex-client",
    "GLOBEX_SECRET": "globex-secret-value",
}


def test_without_orgs_the_environment_names_the_one_organization() -> None:
    settings = parse_settings("[rules.idle]\nafter = '5m'\n", FILE)
    assert settings.orgs == ()
    assert settings == parse_settings("[rules.idle]\nafter = '5m'\n", FILE)  # nothing else changed
    env = {
        "GENESYSCLOUD_OAUTHCLIENT_ID": "one",
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": "one-secret",
        "GENESYSCLOUD_REGION": "us-east-1",
    }
    (only,) = settings.organizations(env)
    assert only.name is None and only.credentials.client_id == "one"
    assert only.settings is settings


def test_each_organization_merges_its_overrides_into_the_top_level_policy() -> None:
    settings = parse_settings(TWO, FILE)
    acme, globex = settings.orgs
    assert (acme.name, globex.name) == ("acme", "globex")
    # acme's own keys win, the rest is the top level's
    assert acme.settings.sweep.max_closes == 3
    assert acme.settings.rules.get("idle").after == timedelta(minutes=20)
    assert acme.settings.rules.get("idle").after_hours == timedelta(hours=2)
    assert acme.settings.close.closing_text == ""
    assert acme.settings.schedule.timezone == "UTC"
    # a table value merges key by key: acme's include, the top level's exclude
    assert acme.settings.sweep.queues.include == ("q2",)
    assert acme.settings.sweep.queues.exclude == ("q9",)
    # globex overrides only the time zone
    assert globex.settings.sweep.max_closes == 10
    assert globex.settings.rules.get("idle").after == timedelta(minutes=30)
    assert globex.settings.schedule.timezone == "Europe/Paris"
    # one ledger; each budget its own, else the top level's
    assert {acme.settings.sweep.ledger, globex.settings.sweep.ledger} == {"sqlite:///shared.db"}
    assert (acme.requests_per_minute, acme.settings.sweep.requests_per_minute) == (120, 120)
    assert globex.requests_per_minute == globex.settings.sweep.requests_per_minute == 300
    # hosts
    assert (acme.region, acme.api_url) == ("eu-west-1", None)
    assert globex.api_url == "http://127.0.0.1:9"
    # the top-level policy itself is unchanged
    assert settings.sweep.max_closes == 10 and settings.rules.get("idle").after == timedelta(minutes=30)


def test_apply_on_the_command_line_wins_in_every_organization() -> None:
    settings = parse_settings(TWO + "[orgs.globex.sweep]\napply = true\n", FILE)
    assert [o.settings.sweep.apply for o in settings.orgs] == [False, True]
    assert [o.settings.sweep.apply for o in settings.with_apply(True).orgs] == [True, True]
    assert [o.settings.sweep.apply for o in settings.with_apply(False).orgs] == [False, False]


def test_credentials_come_from_the_variables_each_organization_names() -> None:
    settings = parse_settings(TWO, FILE)
    acme, globex = settings.organizations(ENV)
    assert (acme.name, acme.credentials.client_id, acme.credentials.region) == (
        "acme",
        "acme-client",
        "eu-west-1",
    )
    assert acme.credentials.client_secret.get_secret_value() == "acme-secret-value"
    assert (globex.credentials.client_id, globex.credentials.api_url) == (
        "globex-client",
        "http://127.0.0.1:9",
    )
    assert acme.settings.sweep.max_closes == 3
    assert [o.name for o in settings.organizations(ENV, only=["globex"])] == ["globex"]
    # once read, an organization's secret is redacted like GENESYSCLOUD_OAUTHCLIENT_SECRET
    assert redact("token request with globex-secret-value failed") == "token request with [REDACTED] failed"
    assert "acme-secret-value" not in repr(acme) + str(acme)


def test_a_secret_read_after_logging_was_set_up_is_redacted_in_every_line() -> None:
    from session_reaper.telemetry import logs

    stream = io.StringIO()
    logs.configure(json=True, stream=stream, secrets=[])
    try:
        parse_settings(TWO, FILE).organizations({**ENV, "ACME_SECRET": "late-acme-secret-xyz"})
        logs.get_logger().warning("token refused", detail="client acme sent late-acme-secret-xyz")
    finally:
        logs.configure(json=False, level="warning")
    assert "late-acme-secret-xyz" not in stream.getvalue()
    assert json.loads(stream.getvalue())["detail"] == "client acme sent [REDACTED]"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.replace("requests_per_minute = 120", 'requests_per_minute = 120\ncolour = "red"'),
            r"^orgs\.toml:15: \[orgs\.acme\] colour: unknown key \(known: client_id_env, .*\)$",
        ),
        (
            lambda t: t.replace("max_closes = 3", "max_closes = 3\nmax_close = 4"),
            r"^orgs\.toml:18: \[orgs\.acme\.sweep\] max_close: unknown key \(known: apply, .*\)$",
        ),
        (
            lambda t: t.replace("max_closes = 3", 'ledger = "sqlite:///own.db"'),
            r"^orgs\.toml:17: \[orgs\.acme\.sweep\] ledger: one ledger for every organization: set it in"
            r" \[sweep\]$",
        ),
        (
            lambda t: t.replace("max_closes = 3", "requests_per_minute = 5"),
            r"^orgs\.toml:17: \[orgs\.acme\.sweep\] requests_per_minute: "
            r".* \[orgs\.acme\] requests_per_minute$",
        ),
        (
            lambda t: t.replace('after = "20m"', 'after = "soon"'),
            r"^orgs\.toml:21: \[orgs\.acme\.rules\.idle\] after: bad duration 'soon'",
        ),
        (
            lambda t: t.replace("[orgs.acme.rules.idle]", "[orgs.acme.rules.idel]"),
            r"^orgs\.toml:21: \[orgs\.acme\.rules\.idel\] after: unknown rule 'idel'",
        ),
        (
            lambda t: t.replace('"GLOBEX_ID"', '"ACME_ID"'),
            r"^orgs\.toml:27: \[orgs\.globex\] client_id_env: "
            r"ACME_ID is already the client of \[orgs\.acme\]",
        ),
        (
            lambda t: t.replace('"GLOBEX_SECRET"', '"not a name"'),
            r"^orgs\.toml:28: \[orgs\.globex\] client_secret_env: not the name of an environment variable",
        ),
        (
            lambda t: t.replace('api_url = "http://127.0.0.1:9/"\n', ""),
            r"^orgs\.toml:26: \[orgs\.globex\] region: required: the organization's region, or api_url$",
        ),
        (
            lambda t: t.replace('api_url = "http://127.0.0.1:9/"', 'api_url = "127.0.0.1:9"'),
            r"^orgs\.toml:29: \[orgs\.globex\] api_url: must be a URL",
        ),
        (
            lambda t: t.replace('client_id_env = "GLOBEX_ID"\n', ""),
            r"^orgs\.toml:26: \[orgs\.globex\] client_id_env: required$",
        ),
        (
            lambda t: t.replace("[orgs.globex]", '[orgs."globex inc"]').replace(
                "[orgs.globex.schedule]", '[orgs."globex inc".schedule]'
            ),
            r'^orgs\.toml:26: \[orgs\."globex inc"\]: not a simple name for an organization',
        ),
        (
            lambda t: t.replace("requests_per_minute = 120", "requests_per_minute = 0"),
            r"^orgs\.toml:14: \[orgs\.acme\] requests_per_minute: must be at least 1, got 0$",
        ),
    ],
)
def test_every_problem_names_the_line_the_organization_and_the_key(edit: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(edit(TWO), FILE)
    assert re.search(message, str(caught.value), re.M), str(caught.value)


def test_a_top_level_problem_is_reported_once_not_once_per_organization() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(TWO.replace("max_closes = 10", "max_closes = -1"), FILE)
    assert str(caught.value) == "orgs.toml:2: [sweep] max_closes: must be at least 0, got -1"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {k: v for k, v in ENV.items() if k != "GLOBEX_SECRET"},
            "orgs.toml:28: [orgs.globex] client_secret_env: "
            "the environment variable GLOBEX_SECRET is not set",
        ),
        (
            {**ENV, "ACME_ID": " "},
            "orgs.toml:11: [orgs.acme] client_id_env: the environment variable ACME_ID is not set",
        ),
        (
            {**ENV, "GLOBEX_ID": "acme-client"},
            "orgs.toml:27: [orgs.globex] client_id_env: GLOBEX_ID holds the same client id as [orgs.acme]'s"
            " ACME_ID: each organization has its own OAuth client",
        ),
    ],
)
def test_credentials_missing_or_shared_are_refused_naming_the_organization(
    env: dict[str, str], message: str
) -> None:
    settings = parse_settings(TWO, FILE)
    with pytest.raises(CredentialsError) as caught:
        settings.organizations(env)
    assert str(caught.value) == message
    assert "secret-value" not in str(caught.value)


def test_an_unknown_organization_lists_the_known_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"--org initech: no such organization \(configured: acme, globex\)"
    ):
        parse_settings(TWO, FILE).organizations(ENV, only=["initech"])
    with pytest.raises(ConfigError, match=r"--org acme: no organizations are configured"):
        Settings().organizations({}, only=["acme"])


def test_the_secret_pasted_instead_of_a_variable_name_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(TWO.replace('"GLOBEX_SECRET"', '"s3cr3t-Value/9+x"'), FILE)
    assert "s3cr3t-Value/9+x" not in str(caught.value)
    assert "[orgs.globex] client_secret_env" in str(caught.value)


# ------------------------------------------------------------------------------ real processes


def _run(emulator: Any, tmp_path: Path, text: str, *args: str, env: dict[str, str] | None = None) -> Any:
    config = tmp_path / FILE
    config.write_text(text.replace("sqlite:///shared.db", f"sqlite:///{tmp_path / 'ledger.db'}"))
    return subprocess.run(
        [sys.executable, "-m", "session_reaper.commands.cli", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **(env if env is not None else ENV)},
        cwd=tmp_path,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("text", "args", "env", "said"),
    [
        (
            TWO.replace("max_closes = 3", 'ledger = "sqlite:///own.db"'),
            ("sweep", "--json"),
            None,
            "orgs.toml:17: [orgs.acme.sweep] ledger: one ledger for every organization",
        ),
        (
            TWO.replace('"GLOBEX_ID"', '"ACME_ID"'),
            ("scan",),
            None,
            "orgs.toml:27: [orgs.globex] client_id_env: ACME_ID is already the client of [orgs.acme]",
        ),
        (
            TWO,
            ("sweep", "--apply", "--json"),
            {k: v for k, v in ENV.items() if k != "ACME_SECRET"},
            "orgs.toml:12: [orgs.acme] client_secret_env: the environment variable ACME_SECRET is not set",
        ),
        (
            TWO,
            ("sweep", "--org", "initech"),
            None,
            "--org initech: no such organization (configured: acme, globex)",
        ),
        (TWO, ("explain", "some-id", "--org", "nope"), None, "(configured: acme, globex)"),
        (TWO, ("sweep", "--only", "c-1"), None, "--only: name the conversations' organization with --org"),
    ],
)
def test_the_command_exits_2_naming_the_org_and_sends_nothing(
    emulator: Any, tmp_path: Path, text: str, args: tuple[str, ...], env: dict[str, str] | None, said: str
) -> None:
    # globex's host is the emulator: had anything been asked, its request log would show it
    text = text.replace("http://127.0.0.1:9/", emulator.base_url)
    done = _run(emulator, tmp_path, text, *args, env=env)
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr
    assert said in done.stderr, done.stderr
    assert "secret-value" not in done.stdout + done.stderr
    assert emulator.requests() == []


# ------------------------------------------------------------------------------------ runtimes


def test_each_organizations_runtime_has_its_own_client_pacer_policy_and_ledger_view(
    emulator: Any, tmp_path: Path
) -> None:
    import asyncio

    from session_reaper.commands.runtime import open_runtime, organizations
    from session_reaper.ledger import Ledger

    emulator.add_client("rt-acme", "rt-acme-secret", rateLimitPerMinute=100_000, organization="acme")
    emulator.add_client("rt-globex", "rt-globex-secret", rateLimitPerMinute=100_000, organization="globex")
    env = {"ACME_ID": "rt-acme", "ACME_SECRET": "rt-acme-secret"}
    env |= {"GLOBEX_ID": "rt-globex", "GLOBEX_SECRET": "rt-globex-secret"}
    text = TWO.replace('region = "eu-west-1"', f'api_url = "{emulator.base_url}"')
    text = text.replace("http://127.0.0.1:9/", emulator.base_url)
    settings = parse_settings(text.replace("sqlite:///shared.db", f"sqlite:///{tmp_path / 'l.db'}"), FILE)

    async def both() -> list[tuple[Any, ...]]:
        seen = []
        with Ledger.open(settings.sweep.ledger) as shared:
            for org in organizations(settings, env):
                async with open_runtime(settings, env, org=org, ledger=shared) as rt:
                    me = await rt.api.token_info()
                    budget = rt.api.http.limiter.budget
                    seen.append(
                        (
                            rt.org,
                            me["organization"]["name"],
                            budget,
                            rt.settings.sweep.max_closes,
                            rt.ledger.org,
                        )
                    )
        return seen

    (acme, globex) = asyncio.run(both())
    assert acme[:2] == ("acme", "acme") and globex[:2] == ("globex", "globex")
    assert acme[2] < globex[2]  # 120/min against the default 300/min, each below its own limit
    assert (acme[3], globex[3]) == (3, 10)  # each its own merged policy
    assert (acme[4], globex[4]) == ("acme", "globex")  # each its own view of the one ledger
    assert {r["clientId"] for r in emulator.requests()} == {"rt-acme", "rt-globex"}
    # with several organizations a runtime must be told which
    with pytest.raises(ConfigError, match=r"several organizations are configured \(acme, globex\)"):
        asyncio.run(open_runtime(settings, env).__aenter__())


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ({"org": "initech"}, "--org initech: no such organization (configured: acme, globex)"),
        ({}, "--plan: lines without an org, and organizations are configured"),
    ],
)
def test_a_plan_of_an_unknown_organization_or_of_none_is_refused(
    emulator: Any, tmp_path: Path, line: dict[str, str], said: str
) -> None:
    plan = tmp_path / "plan.jsonl"
    decided = {"conversationId": "c-1", "rule": "idle", "decision": "close", "outcome": "dry-run"}
    plan.write_text(
        json.dumps({**line, **decided, "reason": "x", "decidedAt": "2026-01-01T00:00:00Z"}) + "\n"
    )
    text = TWO.replace("http://127.0.0.1:9/", emulator.base_url)
    done = _run(emulator, tmp_path, text, "sweep", "--apply", "--plan", str(plan))
    assert done.returncode == 2, done
    assert said in done.stderr and "Traceback" not in done.stderr
    assert emulator.requests() == []
