"""The habits every CLI has: --version, shell completion, one metavar vocabulary in every --help,
and an emulator whose start banner says how to point the reaper at it (run as real processes)."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import threading
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest
import typer.main

from session_reaper.commands.cli import app
from tests.helpers.scenarios import idle_chat

CLI = [sys.executable, "-m", "session_reaper.commands.cli"]
# Every value an option takes is named by one of these (or a list of its literal choices, a|b).
METAVARS = {"FILE", "DURATION", "ID", "URL", "N", "NAME", "HOST", "PORT", "SECONDS"}
CHOICES = re.compile(r"[a-z]+(\|[a-z]+)+")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENESYSCLOUD_", "SESSION_REAPER_"))}
    return {**env, "COLUMNS": "200", "TERM": "dumb", **extra}


def _cli(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=_env(**env), cwd=cwd, timeout=60)


def _commands() -> dict[str, object]:
    return dict(getattr(typer.main.get_command(app), "commands", {}))


def test_version_comes_from_the_package_metadata() -> None:
    done = _cli("--version")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"session-reaper {version('session-reaper')}"


def test_shell_completion_can_be_shown_and_installed(tmp_path: Path) -> None:
    shown = _cli("--show-completion", "bash", HOME=str(tmp_path))
    assert shown.returncode == 0, shown.stderr
    assert "complete" in shown.stdout and "session" in shown.stdout

    installed = _cli("--install-completion", "bash", HOME=str(tmp_path))
    assert installed.returncode == 0, installed.stderr
    assert "completion" in (tmp_path / ".bashrc").read_text()


@pytest.mark.parametrize("name", ["", *sorted(_commands())])
def test_every_help_names_values_with_one_vocabulary(name: str) -> None:
    done = _cli(*([name] if name else []), "--help")

    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert not re.search(r"<[a-z]+>", text), f"a Typer type placeholder in `{name} --help`:\n{text}"
    assert not re.search(r"\{[A-Za-z_]+\}", text), f"a {{placeholder}} in `{name} --help`:\n{text}"
    command = typer.main.get_command(app) if not name else _commands()[name]
    ctx = command.make_context(name or "session-reaper", [], resilient_parsing=True)  # type: ignore[attr-defined]
    for param in command.get_params(ctx):  # type: ignore[attr-defined]
        takes_value = not getattr(param, "is_flag", False)
        label = param.opts[0] if param.param_type_name == "option" else param.metavar
        if not takes_value:
            assert not param.metavar, f"flag {label} of `{name}` shows a value placeholder"
            continue
        metavar = param.metavar
        assert metavar in METAVARS or CHOICES.fullmatch(metavar or ""), (
            f"{label} of `{name}` takes a value named {metavar!r}: use one of {sorted(METAVARS)} or a|b"
        )
        own_row = re.compile(rf"^│\s+(\*\s+)?{re.escape(label)}\s")
        row = next((ln for ln in text.splitlines() if own_row.search(ln)), "")
        assert metavar in row, f"`{name} --help` does not show {label} with {metavar}"


def test_scan_says_how_to_act(emulator, reaper) -> None:  # type: ignore[no-untyped-def]
    emulator.create_conversation(idle_chat(45))

    done = reaper.run("scan")

    assert done.code == 0, done.stderr
    assert "session-reaper sweep --apply" in done.stdout
    assert "add --apply" not in done.stdout  # scan has no --apply


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Banner:
    """The emulator as a real process: its stdout read line by line, until the last export line."""

    def __init__(self, *args: str, cwd: Path) -> None:
        self.process = subprocess.Popen(
            [*CLI, "emulator", "--seed", "none", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
            cwd=cwd,
        )
        self.lines: list[str] = []
        self._done = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if "GENESYSCLOUD_API_URL=" in line:
                self._done.set()
        self._done.set()

    def wait(self) -> list[str]:
        assert self._done.wait(30), f"no banner; stdout so far: {self.lines}"
        return self.lines

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


@pytest.mark.parametrize("port", ["0", "free"])
def test_the_emulator_banner_points_the_reaper_at_it(tmp_path: Path, port: str) -> None:
    asked = str(_free_port()) if port == "free" else "0"
    emulator = _Banner("--port", asked, cwd=tmp_path)
    try:
        banner = emulator.wait()
        exports = [ln.strip() for ln in banner if ln.strip().startswith("export ")]
        named = dict(ln.removeprefix("export ").split("=", 1) for ln in exports)
        assert set(named) == {
            "GENESYSCLOUD_OAUTHCLIENT_ID",
            "GENESYSCLOUD_OAUTHCLIENT_SECRET",
            "GENESYSCLOUD_API_URL",
        }, banner
        assert named["GENESYSCLOUD_OAUTHCLIENT_ID"] == "emulator"
        assert named["GENESYSCLOUD_OAUTHCLIENT_SECRET"] == "emulator-secret"
        assert any("emulator" in ln and "emulator-secret" in ln for ln in banner if "export" not in ln)
        url = named["GENESYSCLOUD_API_URL"]
        bound = int(url.rsplit(":", 1)[1])
        assert bound != 0 and (port == "0" or bound == int(asked)), banner
        created = httpx.post(f"{url}/emulator/v1/conversations", json=idle_chat(45), timeout=10)
        created.raise_for_status()
        cid = created.json()["id"]

        script = "\n".join([*exports, f"{shlex.join(CLI)} scan"])
        env = {k: v for k, v in _env().items() if not k.startswith("GENESYSCLOUD_")}
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )

        assert done.returncode == 0, done.stdout + done.stderr
        assert cid in done.stdout and "idle" in done.stdout
    finally:
        emulator.stop()


def test_the_emulator_says_when_its_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])

        done = _cli("emulator", "--seed", "none", "--port", port, cwd=tmp_path)

    assert done.returncode == 2, done.stdout + done.stderr
    assert port in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
