"""The documents generated from the settings models: docs/configuration.md (README.md holds the same
reference between markers) and examples/session-reaper.toml. Tables, keys, defaults and descriptions
all come from `session_reaper.config`; the rules from its catalog, so a new rule appears by itself.
tests/test_readme.py, tests/test_examples.py and tests/core/test_config.py compare them with the files.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel

from session_reaper.config import (
    CONFIG_ENV,
    DEFAULT_FILE,
    ENV_ACCESS_TOKEN,
    ENV_API_URL,
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ENV_LOGIN_URL,
    ENV_REGION,
    GLOBAL_SWEEP_KEYS,
    OVERRIDABLE,
    RULE_DESCRIPTIONS,
    OrgConfig,
    Settings,
)
from session_reaper.core.schedule import DURATION_HINT, format_duration

EXAMPLE = "examples/session-reaper.toml"


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta):
        return f'"{format_duration(value)}"'
    if value is None:
        return '""'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, BaseModel):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def _table_rows(model: BaseModel) -> list[str]:
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for name, info in type(model).model_fields.items():
        default = toml_value(getattr(model, name)).replace("|", "\\|")
        rows.append(f"| `{name}` | `{default}` | {info.description or ''} |")
    return rows


def _org_rows() -> list[str]:
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for name, info in OrgConfig.model_fields.items():
        if name in OVERRIDABLE:
            continue
        default = "required" if info.is_required() else toml_value(info.default)
        rows.append(f"| `{name}` | `{default}` | {info.description or ''} |")
    return rows


# The example organization of the docs and the example file (commented out there: with one
# `[orgs.NAME]` table the GENESYSCLOUD_* variables no longer name an organization).
EXAMPLE_ORG = (
    "[orgs.acme]",
    'client_id_env = "ACME_CLIENT_ID"',
    'client_secret_env = "ACME_CLIENT_SECRET"',
    'region = "eu-west-1"',
    "requests_per_minute = 300",
    "[orgs.acme.sweep]",
    "max_closes = 50",
    "[orgs.acme.rules.idle]",
    'after = "20m"',
)


def _orgs_section() -> list[str]:
    overridable = ", ".join(f"`[{t}]`" if t != "rules" else "`[rules.*]`" for t in OVERRIDABLE)
    global_keys = ", ".join(f"`{k}`" for k in GLOBAL_SWEEP_KEYS)
    return [
        "## [orgs.&lt;name&gt;]",
        "",
        "Optional: one deployment for many organizations, each with its own OAuth client, host, request",
        "budget and policy. Without any `[orgs.NAME]` table the environment's `GENESYSCLOUD_*` variables",
        "name the one organization, as below; with them, those variables are not read. A name is a simple",
        "identifier (letters, digits, `-` and `_`, starting with a letter). The file names the environment",
        "variables that hold each organization's credentials, never the credentials themselves; a variable",
        "that is not set stops the command (exit 2) before any request, naming the organization and the",
        "key. Two organizations may not share an OAuth client.",
        "",
        *_org_rows(),
        "",
        f"Any key of {overridable} can be given per organization, in `[orgs.NAME.sweep]`,",
        "`[orgs.NAME.rules.idle]`, `[orgs.NAME.close]`, `[orgs.NAME.schedule]`: it overrides the top-level",
        "key for that organization only; every key it does not name keeps the top-level value. A table",
        "value (`queues = { include = [...] }`) is merged key by key too. Except in `[sweep]`:",
        f"{global_keys} are one per process (one ledger for every organization; an organization's",
        "budget is its own `requests_per_minute`).",
        "",
        "`scan`, `sweep`, `explain` and `doctor` take `--org NAME`; without it, `scan`, `sweep` and `doctor`",
        "go over every organization in turn, each on its own (one organization's refused credentials or",
        'outage is reported and the others still run; the exit code is the worst). JSON Lines carry `"org"`',
        "on every line, the summaries included, when organizations are configured. `sweep --only ID` needs",
        "`--org` when several are configured (an id is one organization's); `explain ID` asks each in turn.",
        "",
        "```",  # not ```toml: the first toml block of this page is the defaults file, and stays so
        *EXAMPLE_ORG,
        "```",
        "",
    ]


def _defaults_toml(settings: Settings) -> list[str]:
    lines = []
    for table in ("sweep", "events", "close", "schedule", "console"):
        lines.append(f"[{table}]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in getattr(settings, table))
        lines.append("")
    for name, rule in settings.rules.items():
        lines.append(f"[rules.{name}]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in rule)
        lines.append("")
    return lines[:-1]


def reference_markdown() -> str:
    """docs/configuration.md, generated from the settings models so that it cannot drift from them."""
    defaults = Settings()
    out = [
        "# Configuration reference",
        "",
        "<!-- Generated from the settings models in src/session_reaper/config/tables.py by",
        "     `tools.configuration.reference_markdown()`; do not edit.",
        "     Regenerate: .venv/bin/python -m tools.docs --write-docs -->",
        "",
        "Policy lives in a TOML file. Every command accepts `--config FILE`; without it the file named by",
        f"`${CONFIG_ENV}` is read, else `./{DEFAULT_FILE}` if present, else the defaults below. A file named",
        "explicitly (by `--config` or the variable) must exist. Every key has a default; an empty file is",
        "valid. Unknown keys, bad values and TOML syntax errors stop the command (exit 2) with the file, the",
        "line and the key:",
        "",
        "```",
        f"{DEFAULT_FILE}:7: [rules.idle] after: bad duration 'abc' ({DURATION_HINT})",
        f"{DEFAULT_FILE}:3: [sweep] colour: unknown key (known: ...)",
        "```",
        "",
        'Durations are written `500ms`, `90s`, `30m`, `2h`, `7d`, or combined: `1h30m`. `"0m"` is zero.',
        'Values keep their TOML types: `apply = true`, not `apply = "true"`.',
        "`--apply` on the command line overrides `[sweep] apply`.",
        "",
        "## [sweep]",
        "",
        *_table_rows(defaults.sweep),
        "",
        "## [events]",
        "",
        'Used by `serve` when `[sweep] mode = "events"`: conversations are followed through the',
        "platform's Notifications API (one WebSocket, a topic per queue in scope) and each is re-checked",
        "and acted on when its threshold passes; an analytics sweep runs at start, every",
        "`reconcile_interval` and at once after every reconnect. Queues whose topic the platform rejects",
        "are polled every `[sweep] interval` instead.",
        "",
        *_table_rows(defaults.events),
        "",
        "## [rules.&lt;name&gt;]",
        "",
        "Every rule table accepts the same keys; only the defaults of `after` and `enabled` differ. The",
        "rules are decided in this order, narrowest action first; the first one whose threshold has passed",
        "acts.",
        "A rule's `after` counts from the moment its condition began to hold (idle: the later of the last",
        "message and the moment the agent connected; customer-left: the moment the guest left).",
        "",
        *[
            row.replace('| `after` | `"30m"` |', "| `after` | see below |")
            for row in _table_rows(defaults.rules.idle)
        ],
        "",
        "| rule | default `after` | applies when |",
        "|---|---|---|",
        *[
            f"| `{name}` | `{toml_value(rule.after)}` | {RULE_DESCRIPTIONS[name]}"
            + ("" if rule.enabled else " (disabled by default: `enabled = true` to use it)")
            + " |"
            for name, rule in defaults.rules.items()
        ],
        "",
        "## [close]",
        "",
        *_table_rows(defaults.close),
        "",
        "## [schedule]",
        "",
        "Used only by rules with `after_hours`: outside business hours that threshold applies instead of",
        "`after`. Hours are local wall-clock time in `timezone`, evaluated with the zone's rules (DST-safe).",
        "",
        *_table_rows(defaults.schedule),
        "",
        "## [console]",
        "",
        "The supervisor console `serve` serves at `/console` (docs/console.md). A rule with",
        "`approval = true` journals its decisions as `pending` until an operator approves or rejects them.",
        "",
        *_table_rows(defaults.console),
        "",
        *_orgs_section(),
        "## Environment",
        "",
        "| variable | meaning |",
        "|---|---|",
        f"| `{CONFIG_ENV}` | the policy file, when `--config` is not given |",
        f"| `{ENV_CLIENT_ID}` | OAuth client id (client credentials grant) |",
        f"| `{ENV_CLIENT_SECRET}` | its secret; never printed, logged or stored |",
        f"| `{ENV_REGION}` | region (`us-east-1`, `eu-west-1`, ...) or domain (`mypurecloud.ie`) |",
        f"| `{ENV_API_URL}` | optional full API base URL (emulator, gateway); wins over the region |",
        f"| `{ENV_LOGIN_URL}` | optional OAuth base URL; default: the API URL when set, else login.DOMAIN |",
        f"| `{ENV_ACCESS_TOKEN}` | optional ready access token instead of the client id and secret |",
        "",
        "## The defaults, as a file",
        "",
        "```toml",
        *_defaults_toml(defaults),
        "```",
        "",
    ]
    return "\n".join(out)


# ------------------------------------------------------------------------- the example file


def _keys(model: BaseModel) -> list[str]:
    lines = []
    for name, info in type(model).model_fields.items():
        if info.description:
            lines.append(f"# {info.description}")
        lines.append(f"{info.alias or name} = {toml_value(getattr(model, name))}")
    return lines


def example_toml() -> str:
    defaults = Settings()
    out = [
        f"# session-reaper policy: every key with its default. Copy to ./{DEFAULT_FILE} (or point",
        f"# ${CONFIG_ENV} or --config at it) and change what you need; a key left out keeps its default.",
        f"# Durations: {DURATION_HINT}.",
        f"# Credentials never go here: ${ENV_CLIENT_ID}, ${ENV_CLIENT_SECRET}, ${ENV_REGION}",
        f"# (or ${ENV_API_URL}) come from the environment.",
        "# Generated by `python -m tools.docs --write-docs`; do not edit by hand.",
        "",
    ]
    for table, info in Settings.model_fields.items():
        value = getattr(defaults, table)
        if table == "rules":
            for name, rule in defaults.rules.items():
                out.append(f"# {RULE_DESCRIPTIONS[name]}")
                out.append(f"[rules.{name}]")
                out.extend(_keys(rule))
                out.append("")
            continue
        if info.description:
            out.append(f"# {info.description}")
        out.append(f"[{table}]")
        out.extend(_keys(value))
        out.append("")
    out.extend(
        [
            "# Many organizations (optional; none: the GENESYSCLOUD_* variables name the one). Each names",
            "# the variables holding its credentials and may override any [sweep] (but ledger and",
            "# requests_per_minute), [rules.*], [close] or [schedule] key. See docs/configuration.md.",
            *(f"# {line}" for line in EXAMPLE_ORG),
            "",
        ]
    )
    return "\n".join(out)
