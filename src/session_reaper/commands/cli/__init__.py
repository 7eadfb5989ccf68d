"""The `session-reaper` command: parse, call, print. Work happens in the modules it calls.

`app` is built in `app.py`; importing the command groups below registers their commands on it, in
the order `--help` lists them.
"""

from __future__ import annotations

from session_reaper.commands.cli.app import app

# isort: off
from session_reaper.commands.cli import passes  # sweep, scan, explain
from session_reaper.commands.cli import diagnostics  # report, doctor
from session_reaper.commands.cli import services  # demo, emulator, serve

# isort: on

__all__ = ["app", "diagnostics", "main", "passes", "services"]


def main() -> None:
    app()
