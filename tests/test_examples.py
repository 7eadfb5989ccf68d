"""Files to copy stay true: the example policy is the settings model's, the sweep units run a real command.

Regenerate the example with
    .venv/bin/python -m tools.docs --write-docs
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer.main
from pydantic import BaseModel

from genesys_emulator.client import Emulator
from session_reaper.commands.cli import app
from session_reaper.config import Settings, parse_settings
from session_reaper.core.schedule import parse_duration
from tests.helpers.scenarios import ended, idle_chat
from tools.configuration import EXAMPLE, example_toml
from tools.docs import WRITE

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
SERVICE, TIMER, SERVE = (
    DEPLOY / "session-reaper-sweep.service",
    DEPLOY / "session-reaper-sweep.timer",
    DEPLOY / "session-reaper.service",
)
BINARY = "/opt/session-reaper/.venv/bin/session-reaper"


# ------------------------------------------------------------------------------------ the example


def test_the_example_is_generated_from_the_settings_model() -> None:
    assert (ROOT / EXAMPLE).read_text(encoding="utf-8") == example_toml(), (
        f"{EXAMPLE} differs from tools.configuration.example_toml(): run `{WRITE}` and commit it"
    )


def test_the_loader_reads_the_example_as_the_defaults() -> None:
    text = (ROOT / EXAMPLE).read_text(encoding="utf-8")
    assert parse_settings(text, EXAMPLE) == Settings()


def _keys(model: BaseModel) -> set[str]:
    return {info.alias or name for name, info in type(model).model_fields.items()}


def test_every_key_of_every_table_is_there_with_a_comment() -> None:
    text = (ROOT / EXAMPLE).read_text(encoding="utf-8")
    data = tomllib.loads(text)
    defaults = Settings()
    tables = {name: getattr(defaults, name) for name in Settings.model_fields if name != "rules"}
    tables |= {f"rules.{name}": rule for name, rule in defaults.rules.items()}
    for table, model in tables.items():
        found = data
        for part in table.split("."):
            found = found[part]
        assert set(found) == _keys(model), table
    # Each key line follows its own comment line.
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^[a-z_]+ = ", line):
            assert lines[index - 1].startswith("# "), f"{EXAMPLE}:{index + 1}: {line} has no comment"


def test_a_changed_example_still_parses_and_takes_effect() -> None:
    text = (ROOT / EXAMPLE).read_text(encoding="utf-8")
    edited = re.sub(r'(\[rules\.idle\][^\[]*?after = )"30m"', r'\1"45m"', text, flags=re.S)
    assert edited != text
    assert parse_settings(edited, EXAMPLE).rules.get("idle").after == parse_duration("45m")


# ------------------------------------------------------------------------------ the sweep units


def settings(path: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def assert_a_real_command(words: list[str]) -> None:
    """`session-reaper sweep --apply ...`: the subcommand and every flag exist in the CLI."""
    assert words[0] == BINARY and words[1] == "sweep", words
    sweep = getattr(typer.main.get_command(app), "commands", {})["sweep"]
    options = {opt for param in sweep.params for opt in getattr(param, "opts", [])}
    flags = [w for w in words[2:] if w.startswith("--")]
    assert "--apply" in flags
    for flag in flags:
        assert flag in options, f"`session-reaper sweep {flag}` does not exist"


def test_the_service_is_a_hardened_one_shot_sweep() -> None:
    unit, serve = settings(SERVICE), settings(SERVE)
    assert unit["Type"] == ["oneshot"] and "Restart" not in unit
    (command,) = unit["ExecStart"]
    assert_a_real_command(shlex.split(command))
    assert unit["EnvironmentFile"] == serve["EnvironmentFile"]
    assert unit["DynamicUser"] == ["yes"] and unit["StateDirectory"] == serve["StateDirectory"]
    hardening = [key for key in serve if key.startswith(("Protect", "Private", "Restrict", "SystemCall"))]
    hardening += ["NoNewPrivileges", "CapabilityBoundingSet", "MemoryDenyWriteExecute", "LockPersonality"]
    for key in hardening:
        assert unit.get(key) == serve[key], f"{key}: the sweep unit is not hardened like the service"
    assert "GENESYSCLOUD_OAUTHCLIENT_SECRET=" not in SERVICE.read_text(encoding="utf-8")


def systemd_span(text: str) -> Any:
    """systemd's "5min", "4min", "45s" (the units these files use) as a timedelta."""
    return parse_duration(text.replace("min", "m"))


def test_the_timer_starts_the_service_every_few_minutes() -> None:
    timer = settings(TIMER)
    assert timer["Unit"] == [SERVICE.name]
    every = systemd_span(timer["OnUnitActiveSec"][0])
    assert parse_duration("1m") <= every <= parse_duration("15m")
    # The sweep must be over (or stopped) before the next one is due.
    assert systemd_span(settings(SERVICE)["TimeoutStartSec"][0]) < every


def test_systemd_accepts_the_units() -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (the static checks above still ran)")
    done = subprocess.run(
        [analyze, "verify", str(SERVICE), str(TIMER)], capture_output=True, text=True, timeout=60
    )
    problems = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if line.strip() and "is not executable" not in line and "No such file" not in line
    ]
    assert not problems, problems


def crontab_line() -> str:
    lines = [ln for ln in (ROOT / "README.md").read_text(encoding="utf-8").splitlines() if ln.strip()]
    found = [ln.strip() for ln in lines if re.match(r"^\s*\*/\d+ \* \* \* \* ", ln)]
    assert len(found) == 1, "README.md shows one crontab line"
    return found[0]


def test_the_readme_crontab_line_runs_the_same_sweep_as_the_timer() -> None:
    words = shlex.split(crontab_line().split(">>")[0])
    assert words[5:8] == ["flock", "-n", "/var/lib/session-reaper/sweep.lock"]  # never two at once
    command = words[8:]
    assert_a_real_command(command)
    assert command == shlex.split(settings(SERVICE)["ExecStart"][0])


def test_the_units_command_sweeps_with_the_example_policy(emulator: Emulator, tmp_path: Path) -> None:
    """The unit's very command line, with the example policy, against the emulator: it acts."""
    cid = emulator.create_conversation(idle_chat())["id"]
    words = shlex.split(settings(SERVICE)["ExecStart"][0])
    words[words.index("--config") + 1] = str(ROOT / EXAMPLE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENESYSCLOUD_", "SESSION_REAPER_"))}
    env |= {
        "GENESYSCLOUD_OAUTHCLIENT_ID": "emulator",
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": "emulator-secret",
        "GENESYSCLOUD_REGION": "us-east-1",
        "GENESYSCLOUD_API_URL": emulator.base_url,
    }
    command = [sys.executable, "-m", "session_reaper.commands.cli", *words[1:]]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    lines: list[dict[str, Any]] = [json.loads(ln) for ln in done.stdout.splitlines() if ln.startswith("{")]
    assert [ln["outcome"] for ln in lines if ln.get("conversationId") == cid] == ["done"]
    answer = emulator.platform.get(f"/api/v2/conversations/{cid}")
    assert ended(answer.json())
    assert (tmp_path / "session-reaper.db").is_file()  # the example's ledger, in the working directory
