"""`Settings`: the whole policy file, its tables and (when there are `[orgs.NAME]` tables) its organizations.

The policy tables are fields; the organizations are not (they are read by the loader, which
merges the top-level policy into each, see `orgs`), so that a file without `[orgs]` gives exactly the
settings it always gave.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, PrivateAttr

from session_reaper.config.errors import ConfigError
from session_reaper.config.orgs import OrgSettings
from session_reaper.config.tables import (
    CloseConfig,
    ConsoleConfig,
    EventsConfig,
    RulesConfig,
    ScheduleConfig,
    SweepConfig,
    _Table,
)
from session_reaper.core.plan import CloseSettings
from session_reaper.core.rules import Policy, RulePolicy

if TYPE_CHECKING:
    from session_reaper.config.credentials import Organization


class Settings(_Table):
    sweep: SweepConfig = Field(default_factory=SweepConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    close: CloseConfig = Field(default_factory=CloseConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)

    _source: Path | None = PrivateAttr(default=None)
    _orgs: tuple[OrgSettings, ...] = PrivateAttr(default=())

    @property
    def source(self) -> Path | None:
        """The file these settings were read from; None = built-in defaults."""
        return self._source

    @property
    def orgs(self) -> tuple[OrgSettings, ...]:
        """The `[orgs.NAME]` organizations in the file's order; () = the one of `GENESYSCLOUD_*`."""
        return self._orgs

    def org(self, name: str) -> OrgSettings:
        """The organization called `name`; a ConfigError (exit 2) naming the known ones otherwise."""
        for org in self._orgs:
            if org.name == name:
                return org
        known = ", ".join(o.name for o in self._orgs)
        if not known:
            raise ConfigError(
                f"--org {name}: no organizations are configured (no [orgs.NAME] table): "
                "the GENESYSCLOUD_* variables name the only one"
            )
        raise ConfigError(f"--org {name}: no such organization (configured: {known})")

    def organizations(
        self, environ: Mapping[str, str] | None = None, *, only: Sequence[str] | None = None
    ) -> list[Organization]:
        """Each organization with its credentials read from the environment, before any request.

        Without `[orgs]`: one organization named None, from the `GENESYSCLOUD_*` variables, as always.
        `only`: those organizations (an unknown name is a ConfigError listing the known ones).
        """
        from session_reaper.config.credentials import organizations

        return organizations(self, environ, only=only)

    def with_orgs(self, orgs: tuple[OrgSettings, ...]) -> Settings:
        changed = self.model_copy()
        changed._source, changed._orgs = self._source, orgs
        return changed

    def with_apply(self, apply: bool) -> Settings:
        """`--apply` on the command line wins over `[sweep] apply`, in every organization too."""
        changed = self.model_copy(update={"sweep": self.sweep.model_copy(update={"apply": apply})})
        changed._source = self._source
        changed._orgs = tuple(
            dataclasses.replace(org, settings=org.settings.with_apply(apply)) for org in self._orgs
        )
        return changed

    def policy(self) -> Policy:
        sweep = self.sweep
        return Policy(
            channels=frozenset(sweep.channels),
            queue_include=frozenset(sweep.queues.include),
            queue_exclude=frozenset(sweep.queues.exclude),
            exempt_attribute=sweep.exempt_attribute,
            respect_platform_timer=sweep.respect_platform_timer,
            rules={
                name: RulePolicy(
                    rule.after, enabled=rule.enabled, after_hours=rule.after_hours, approval=rule.approval
                )
                for name, rule in self.rules.items()
            },
            warn_before=self.close.warn_before,
            allow_teardown=self.close.allow_teardown,
            wrapup_code=self.close.wrapup_code,
            schedule=self.schedule.schedule(),
        )

    def close_settings(self) -> CloseSettings:
        close = self.close
        return CloseSettings(
            warn_before=close.warn_before,
            warning_text=close.warning_text,
            closing_text=close.closing_text,
            wrapup_code=close.wrapup_code,
            wrapup_notes=close.wrapup_notes,
            annotate=close.annotate,
            allow_teardown=close.allow_teardown,
        )
