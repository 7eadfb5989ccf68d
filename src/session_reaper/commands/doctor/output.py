"""How a diagnosis reads: a ✓/✗/⚠/– line per check with its fix, a verdict; or one JSON object."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from session_reaper.commands.doctor.verdicts import Diagnosis, Status
from session_reaper.errors import EXIT_ACTION_FAILED, EXIT_AUTH, EXIT_OK, EXIT_USAGE

_MARK = {
    Status.OK: "[green]✓[/]",
    Status.FAIL: "[bold red]✗[/]",
    Status.WARN: "[yellow]⚠[/]",
    Status.SKIP: "[dim]–[/]",
}


def _checks(console: Console, diagnosis: Diagnosis) -> None:
    for check in diagnosis.checks:
        console.print(f"{_MARK[check.status]} [bold]{escape(check.name)}[/]: {escape(check.detail)}")
        if check.fix and check.status in (Status.FAIL, Status.WARN):
            console.print(f"    [dim]fix:[/] {escape(check.fix)}")


def render(console: Console, diagnosis: Diagnosis) -> None:
    _checks(console, diagnosis)
    for section in diagnosis.sections:
        console.print(f"[bold]── organization {escape(str(section.org))} ──[/]")
        _checks(console, section)
    verdict = {
        EXIT_OK: "[green]Everything the configured rules need is there.[/]",
        EXIT_ACTION_FAILED: "[bold red]The platform could not be asked; nothing was judged.[/]",
        EXIT_USAGE: "[bold red]Configuration problem: fix it first.[/]",
        EXIT_AUTH: "[bold red]Authentication or permissions missing: see the fixes above.[/]",
    }[diagnosis.exit_code]
    console.print(verdict)


def to_json(diagnosis: Diagnosis) -> dict[str, Any]:
    """`checks`, `queuesWithoutTimer`, `exitCode`; with organizations `orgs`, one such object each
    (with its `org`), and `exitCode` the worst of them."""
    found: dict[str, Any] = {"org": diagnosis.org} if diagnosis.org is not None else {}
    found |= {
        "checks": [check.to_json() for check in diagnosis.checks],
        "queuesWithoutTimer": list(diagnosis.queues_without_timer),
        "exitCode": diagnosis.exit_code,
    }
    if diagnosis.sections:
        found["orgs"] = [to_json(section) for section in diagnosis.sections]
    return found
