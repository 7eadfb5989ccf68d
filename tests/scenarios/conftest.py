"""Scenario fixtures: run the real `session-reaper` command against the emulator, judge the platform.

Every scenario builds its world through the emulator's admin API, runs the CLI as a real process
(`python -m session_reaper.commands.cli ...`) over loopback HTTP, and then checks the platform's state through
the platform API and the emulator's request log — never through the reaper's own word alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def toml_text(tables: Mapping[str, Mapping[str, Any]]) -> str:
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return str(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        raise TypeError(v)

    parts = []
    for table, keys in tables.items():
        parts.append(f"[{table}]")
        parts.extend(f"{k} = {value(v)}" for k, v in keys.items())
        parts.append("")
    return "\n".join(parts)


@dataclass
class ReaperRun:
    code: int
    stdout: str
    stderr: str
    lines: list[dict[str, Any]]
    summary: dict[str, Any] | None

    def line(self, conversation_id: str) -> dict[str, Any]:
        matches = [ln for ln in self.lines if ln["conversationId"] == conversation_id]
        assert matches, (
            f"no decision line for {conversation_id}; stdout={self.stdout!r} stderr={self.stderr!r}"
        )
        return matches[-1]


class Reaper:
    """Runs the CLI as a real process with the emulator's credentials and a private ledger."""

    def __init__(self, base_url: str, workdir: Path) -> None:
        self.base_url = base_url
        self.workdir = workdir
        self.ledger_url = f"sqlite:///{workdir / 'ledger.db'}"
        self.client_id = "emulator"
        self.client_secret = "emulator-secret"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GENESYSCLOUD_", "SESSION_REAPER_"))}
        env.update(
            GENESYSCLOUD_OAUTHCLIENT_ID=self.client_id,
            GENESYSCLOUD_OAUTHCLIENT_SECRET=self.client_secret,
            GENESYSCLOUD_API_URL=self.base_url,
            GENESYSCLOUD_REGION="us-east-1",
        )
        env.update(extra or {})
        return env

    def config(self, tables: Mapping[str, Mapping[str, Any]] | None = None) -> Path:
        merged: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (tables or {}).items()}
        sweep = merged.setdefault("sweep", {})
        sweep.setdefault("ledger", self.ledger_url)
        sweep.setdefault("verify_timeout", "5s")
        path = self.workdir / "session-reaper.toml"
        # the sweep table first, so that its keys are not read as part of another table
        ordered = {"sweep": merged.pop("sweep"), **merged}
        path.write_text(toml_text(ordered))
        return path

    def run(
        self,
        *args: str,
        config: Mapping[str, Mapping[str, Any]] | None = None,
        config_text: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 120,
    ) -> ReaperRun:
        if config_text is not None:
            path = self.workdir / "session-reaper.toml"
            path.write_text(config_text)
        else:
            path = self.config(config)
        command = [sys.executable, "-m", "session_reaper.commands.cli", *args, "--config", str(path)]
        done = subprocess.run(
            command, capture_output=True, text=True, env=self.env(env), timeout=timeout, cwd=self.workdir
        )
        lines: list[dict[str, Any]] = []
        summary = None
        for raw in done.stdout.splitlines():
            raw = raw.strip()
            if not raw.startswith("{"):
                continue
            payload = json.loads(raw)
            if "summary" in payload:
                summary = payload["summary"]
            else:
                lines.append(payload)
        return ReaperRun(done.returncode, done.stdout, done.stderr, lines, summary)

    def sweep(self, *, apply: bool = True, **kwargs: Any) -> ReaperRun:
        args = ["sweep", "--json", *(["--apply"] if apply else [])]
        return self.run(*args, **kwargs)


@pytest.fixture
def reaper(emulator: Any, tmp_path: Path) -> Reaper:
    return Reaper(emulator.base_url, tmp_path)


@pytest.fixture
def conversation_view(emulator: Any) -> Callable[[str], dict[str, Any]]:
    """The platform's generic view of a conversation, read through the platform API."""

    def read(conversation_id: str) -> dict[str, Any]:
        answer = emulator.platform.get(f"/api/v2/conversations/{conversation_id}")
        answer.raise_for_status()
        return answer.json()  # type: ignore[no-any-return]

    return read
