"""Passes over several organizations: `--org NAME`, one pass per organization in turn, each on its own.

Without `[orgs]` there is one organization and a pass is exactly what it always was: a failure is
the command's (its exit code and line). With `[orgs]` a failure is that organization's: it is said
(`error: org acme: ...`) and the next organization still runs; the exit code is the worst of them.
Every JSON line then carries `"org"`, the summaries included; without `[orgs]` none does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import typer

from session_reaper.commands.cli.app import fail, failed, run

if TYPE_CHECKING:
    from session_reaper.commands.runtime import Runtime
    from session_reaper.config import Organization, Settings
    from session_reaper.engine.sweep import SweepResult

T = TypeVar("T")

OrgOption = typer.Option(
    None,
    "--org",
    metavar="NAME",
    help="Only this organization (an [orgs.NAME] table). Default: every configured one, in turn.",
)


@dataclass
class OrgPass(Generic[T]):
    org: str | None
    result: T | None  # None: the organization failed before its work was done
    code: int


def targets(settings: Settings, org: str | None) -> list[Organization]:
    """The organizations to work on, with every credential read and host resolved (else exit 2)."""
    from session_reaper.commands.exits import HANDLED
    from session_reaper.commands.runtime import organizations

    try:
        return organizations(settings, only=[org] if org is not None else None)
    except HANDLED as exc:
        raise failed(exc) from None


def with_org(payload: dict[str, Any], org: str | None) -> dict[str, Any]:
    """A JSON line with `"org"` first when organizations are configured (org not None)."""
    return payload if org is None else {"org": org, **payload}


def org_failed(org: str | None, code: int, message: str) -> int:
    """Say one organization's failure (`error: org acme: ...`) and return its code."""
    fail(code, f"org {org}: {message}" if org is not None else message)
    return code


def each_org(
    settings: Settings, found: list[Organization], work: Callable[[Runtime], Awaitable[T]]
) -> list[OrgPass[T]]:
    """`work` in each organization's runtime, in turn, sharing one ledger."""
    from structlog.contextvars import bound_contextvars

    from session_reaper.commands.exits import HANDLED, exit_for
    from session_reaper.commands.runtime import open_runtime
    from session_reaper.errors import EXIT_OK
    from session_reaper.ledger import Ledger

    if not settings.orgs:  # the one organization of GENESYSCLOUD_*: its failure is the command's

        async def single() -> T:
            async with open_runtime(settings, org=found[0]) as rt:
                return await work(rt)

        return [OrgPass(None, run(single), EXIT_OK)]

    async def every() -> list[OrgPass[T]]:
        passes: list[OrgPass[T]] = []
        with Ledger.open(settings.sweep.ledger) as ledger:
            for organization in found:
                try:
                    # every log line of the pass names its org, as `serve`'s loops do
                    with bound_contextvars(org=organization.name):
                        async with open_runtime(settings, org=organization, ledger=ledger) as rt:
                            passes.append(OrgPass(organization.name, await work(rt), EXIT_OK))
                except KeyboardInterrupt:
                    raise
                except HANDLED as exc:  # refused credentials, an unreachable platform: this org's
                    code = org_failed(organization.name, *exit_for(exc))
                    passes.append(OrgPass(organization.name, None, code))
        return passes

    return run(every)


def pass_code(org: str | None, result: SweepResult, *, failures: bool = True) -> int:
    """A finished pass's exit code; a pass stopped early is said on stderr. `failures`: whether a
    conversation that failed makes it 1 (`sweep`), or not (`scan` only shows)."""
    from session_reaper.errors import EXIT_ACTION_FAILED, EXIT_AUTH, EXIT_OK

    if result.aborted is not None:
        return org_failed(org, EXIT_AUTH, str(result.aborted))
    if result.unfinished is not None:
        return org_failed(org, EXIT_ACTION_FAILED, f"the pass could not finish: {result.unfinished}")
    return EXIT_ACTION_FAILED if failures and result.summary.failed else EXIT_OK
