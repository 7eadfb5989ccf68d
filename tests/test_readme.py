"""README.md stays true: generated parts current, permissions in sync with doctor, commands that run.

Regenerate the generated parts (README's configuration reference, docs/permissions.md) with
    .venv/bin/python -m tools.docs --write-docs
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main

from genesys_emulator.client import Emulator
from session_reaper.commands.cli import app
from session_reaper.commands.doctor import CAPABILITIES, known_permissions, permission_label
from tools.configuration import reference_markdown
from tools.docs import END, PERMISSIONS_DOC, README, START, WRITE, readme_block
from tools.permissions import permissions_markdown

REGENERATE = f"run `{WRITE}` and commit the result"
TEXT = README.read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text of the README section whose `## ` heading starts with `title`."""
    start = TEXT.index(f"\n## {title}")
    following = TEXT.find("\n## ", start + 1)
    return TEXT[start : following if following > 0 else len(TEXT)]


def code_blocks(text: str) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.S | re.M)


def test_the_configuration_reference_is_generated_from_the_settings_model() -> None:
    assert TEXT.count(START) == 1 and TEXT.count(END) == 1, f"README.md needs one {START} ... {END} pair"
    assert readme_block(TEXT) == reference_markdown().strip("\n"), (
        f"README.md's configuration reference differs from its generator: {REGENERATE}"
    )


def test_docs_permissions_is_generated_from_the_doctor() -> None:
    assert PERMISSIONS_DOC.read_text(encoding="utf-8") == permissions_markdown(), (
        f"docs/permissions.md differs from tools.permissions.permissions_markdown(): {REGENERATE}"
    )


def test_every_permission_the_doctor_knows_is_in_the_readme_with_its_ui_label() -> None:
    real_org = section("Running against a real organization")
    rows = [line for line in real_org.splitlines() if line.startswith("|")]
    for permission in known_permissions():
        row = [r for r in rows if f"`{permission}`" in r]
        assert row, f"README.md's permission table lacks {permission} (doctor probes it)"
        assert permission_label(permission) in row[0], f"{permission}'s row lacks its label"
    named = set(re.findall(r"`([a-z]+:[A-Za-z]+:[a-z]+)`", "\n".join(rows)))
    assert named <= set(known_permissions()), f"README names permissions doctor never checks: {named}"
    assert {c.key for c in CAPABILITIES if not c.permissions} == {"recheck", "annotate", "wrapup"}, (
        "the README's sentence on operations without a listed permission needs updating"
    )


def test_sections_come_in_the_documented_order() -> None:
    order = [
        "```\nmake demo",
        "## Running against a real organization",
        "### 3. `session-reaper doctor`",
        "### 4. A first dry run",
        "### 5. Act",
        "### 6. Run it as a service: `serve`",
        "## Why the usual answers fail",
        "## How it decides",
        "## Output and exit codes",
        "## The emulator",
        START,
    ]
    positions = [TEXT.index(marker) for marker in order]
    assert positions == sorted(positions)


@pytest.mark.parametrize(
    "wrong",
    [
        "/participants/{pid}/remove",
        "participants/{pid}/disconnect",
        "DELETE /api/v2/conversations/{id}/participants/{pid}",
        "/api/v2/conversations/messaging/{id}",
        '{"status": "closed", "wrapUpCode"',
        "webchat:write",
        "conversation:write",
        "ignore it and move on",
        "api.mynicecxone.com",
        "mygen.com",
        "post_conversations_conversation_id_participants_participant_id_disconnect",
    ],
)
def test_each_wrong_answer_from_the_forums_is_answered(wrong: str) -> None:
    rows = [line for line in section("Why the usual answers fail").splitlines() if line.startswith("| ")]
    assert any(wrong in row for row in rows), f"no row of 'Why the usual answers fail' answers {wrong!r}"


def _commands() -> list[list[str]]:
    """Every `session-reaper ...` command line shown, in code blocks and in inline code."""
    lines = [ln for block in code_blocks(TEXT) for ln in block.replace("\\\n", " ").splitlines()]
    lines += re.findall(r"(?<!`)`(session-reaper [^`]+)`", TEXT)
    found = []
    for line in lines:
        line = line.split("#", 1)[0].strip().rstrip("&").strip()
        if line.startswith("session-reaper "):
            found.append(shlex.split(line.replace("[", "").replace("]", "").replace("|", " ")))
    return found


def test_every_command_and_flag_shown_exists() -> None:
    group = typer.main.get_command(app)
    known: dict[str, Any] = getattr(group, "commands", {})
    commands = _commands()
    assert len(commands) >= 8
    top = {opt for param in group.params for opt in getattr(param, "opts", [])}
    for words in commands:
        name = words[1]
        if name.startswith("--"):  # an option of the top command itself (--version)
            assert name in top, f"README shows `session-reaper {name}`, which does not exist"
            continue
        assert name in known, f"README shows `session-reaper {name}`, which does not exist"
        options = {opt for param in known[name].params for opt in getattr(param, "opts", [])}
        for word in words[2:]:
            if word.startswith("--"):
                assert word in options, f"README shows `session-reaper {name} {word}`, which does not exist"


def _bash(script: str, base_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a README block against the test's emulator: its port, this interpreter's session-reaper."""
    port = base_url.rsplit(":", 1)[1]
    script = script.replace("127.0.0.1:8089", f"127.0.0.1:{port}")
    lines = [ln for ln in script.splitlines() if not ln.startswith("session-reaper emulator")]
    command = f"{shlex.quote(sys.executable)} -m session_reaper.commands.cli"
    text = "\n".join(re.sub(r"(?<![\w/.-])session-reaper ", command + " ", ln) for ln in lines)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENESYSCLOUD_", "SESSION_REAPER_"))}
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", text], capture_output=True, text=True, env=env, cwd=cwd, timeout=60
    )


def test_the_emulator_walk_through_runs_as_shown(emulator: Emulator, tmp_path: Path) -> None:
    walk, admin = [b for b in code_blocks(section("The emulator")) if "curl" in b]
    done = _bash(walk, emulator.base_url, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Everything the configured rules need is there." in done.stdout
    decided = [ln for ln in done.stdout.splitlines() if ln.startswith('{"conversationId"')]
    assert len(decided) == 2 and all('"outcome":"done"' in ln for ln in decided), done.stdout
    assert {'"rule":"idle"', '"rule":"queue-abandoned"'} <= {
        m for ln in decided for m in re.findall(r'"rule":"[^"]+"', ln)
    }

    done = _bash(admin, emulator.base_url, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    # the comment's promise: the client made there lacks the disconnect permission, and doctor says so
    check = _bash(
        "GENESYSCLOUD_OAUTHCLIENT_ID=no-disconnect GENESYSCLOUD_OAUTHCLIENT_SECRET=s3cret "
        "GENESYSCLOUD_API_URL=http://127.0.0.1:8089 session-reaper doctor",
        emulator.base_url,
        tmp_path,
    )
    assert check.returncode == 3, check.stdout
    assert "✗ permission: disconnect a participant" in check.stdout
    assert "Conversation > Communication > Disconnect" in check.stdout
