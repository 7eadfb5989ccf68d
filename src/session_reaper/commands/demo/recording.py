"""The demo's sweeps: the real `Sweep` against the emulator, keeping what each conversation looked like."""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from session_reaper.commands.demo.world import DEMO_CLIENT, DEMO_RATE_LIMIT, WRAPUP_CODE
from session_reaper.commands.report.figures import ACTIONS
from session_reaper.commands.runtime import Runtime
from session_reaper.config import Settings
from session_reaper.core.model import Conversation, DiscoveredConversation
from session_reaper.core.results import DecisionLine, Outcome
from session_reaper.engine.reconcile import Reconciled
from session_reaper.engine.recording import idle_seconds
from session_reaper.engine.sweep import NotBefore, Sweep, SweepResult
from session_reaper.genesys.port import GenesysPlatform


class RecordingSweep(Sweep):
    """A `Sweep` that remembers how each conversation looked when it was decided (the first read)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.decided: dict[str, Conversation] = {}

    def reconciled(self, found: DiscoveredConversation, done: Reconciled) -> None:
        super().reconciled(found, done)
        if done.conversation is not None:
            self.decided.setdefault(found.conversation_id, done.conversation)


def silent_minutes(conversation: Conversation | None, now: datetime) -> float | None:
    """Minutes since the last message of a person or a bot (the reaper's own texts never count)."""
    seconds = None if conversation is None else idle_seconds(conversation, now)
    return None if seconds is None else seconds / 60


@dataclass
class SweepRecord:
    result: SweepResult
    decided: dict[str, Conversation]
    at: datetime

    @property
    def lines(self) -> list[DecisionLine]:
        return self.result.lines

    def done(self) -> list[DecisionLine]:
        return [ln for ln in self.lines if ln.outcome is Outcome.DONE and ln.decision in ACTIONS]


@dataclass
class DayPoint:
    """The emulator's worlds after a sweep: what only the demo can see (a world never swept)."""

    at: datetime  # when its sweep ran (virtual)
    acted: int  # conversations acted on by this sweep
    api_requests: int  # this sweep's (the ledger has them too; the busiest one is the demo's point)
    stale_with: int
    stale_without: int


def demo_settings(
    ledger_url: str,
    *,
    sweep: dict[str, Any] | None = None,
    rules: dict[str, Any] | None = None,
    events: dict[str, Any] | None = None,
) -> Settings:
    """The built-in defaults, plus what a demo needs: its own ledger, the raised limit, a wrap-up code.

    `sweep`, `rules`, `events`: more keys of those tables (`demo --console` applies, and one rule
    waits; the events act listens).
    """
    return Settings.model_validate(
        {
            "sweep": {
                "ledger": ledger_url,
                "requests_per_minute": DEMO_RATE_LIMIT,
                "verify_timeout": "5s",
                **(sweep or {}),
            },
            "close": {"wrapup_code": WRAPUP_CODE},
            "rules": rules or {},
            "events": events or {},
        }
    )


def credentials(base_url: str) -> dict[str, str]:
    return {
        "GENESYSCLOUD_OAUTHCLIENT_ID": DEMO_CLIENT[0],
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": DEMO_CLIENT[1],
        "GENESYSCLOUD_REGION": "us-east-1",
        "GENESYSCLOUD_API_URL": base_url,
    }


def sync_clock(rt: Runtime, platform_now: datetime) -> None:
    """After the demo moved the platform's clock, tell the reaper as a `Date` header would have."""
    rt.api.clock.observe(email.utils.format_datetime(platform_now.astimezone(UTC), usegmt=True))


async def run_sweep(
    rt: Runtime,
    settings: Settings,
    *,
    apply: bool,
    not_before: NotBefore | None = None,
    on_conversation: Callable[[], None] | None = None,
) -> SweepRecord:
    # A platform port per sweep, as each sweep of the demo proves its write permissions anew.
    sweep = RecordingSweep(
        GenesysPlatform(rt.api),
        rt.ledger,
        settings,
        apply=apply,
        not_before=not_before,
        on_conversation=on_conversation,
    )
    result = await sweep.run()
    if result.aborted is not None:
        raise result.aborted
    return SweepRecord(result, sweep.decided, rt.api.clock.now())


@dataclass
class Day:
    """Everything the demo observed, for the summary and the report."""

    start: datetime
    step: timedelta
    backlog: SweepRecord
    points: list[DayPoint] = field(default_factory=list)  # the first is right after the backlog sweep

    @property
    def after_backlog(self) -> datetime:
        """A moment after the backlog sweep's last journal entry and before the day's first sweep."""
        return self.backlog.at + timedelta(milliseconds=1)

    @property
    def steps(self) -> list[DayPoint]:
        return self.points[1:]

    @property
    def end(self) -> datetime:
        return self.points[-1].at if self.points else self.start
