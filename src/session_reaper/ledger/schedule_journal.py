"""What the sweep need not read yet, as the ledger keeps it between passes and runs: the read schedule
(conversations not to be read before a time) and when discovery last looked at each older window.

A mixin of `Ledger` (its connections and organization); the SQL is `read_schedule.py`'s and
`discovery_windows.py`'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy.engine import Engine

from session_reaper.core.model import ScheduledRead
from session_reaper.ledger import discovery_windows as window_sql
from session_reaper.ledger import read_schedule as schedule_sql


class ScheduleJournal:
    engine: Engine
    _writer: Engine
    org: str | None  # the organization whose schedule and windows these are (None: unnamed)

    def read_schedule(self, policy: str, now: datetime) -> dict[str, ScheduledRead]:
        """Conversations not to be read before a time, decided under `policy`, still in force at `now`.

        Rows decided after `now` (the platform's clock went back, by more than CLOCK_SKEW) or under
        another policy are ignored.
        """
        with self.engine.connect() as connection:
            return schedule_sql.load(connection, policy, now, self.org)

    def save_read_schedule(
        self,
        policy: str,
        decided_at: datetime,
        reads: Mapping[str, ScheduledRead],
        forget: Iterable[str] = (),
    ) -> None:
        """Upsert the rows of `reads` and delete those of `forget`, in one transaction.

        An upsert, not delete-then-insert: replicas saving the same conversation at once must not
        collide on its key.
        """
        with self._writer.begin() as connection:
            schedule_sql.save(connection, policy, decided_at, reads, forget, self.org)

    def window_scans(self) -> dict[str, datetime]:
        """When discovery last looked at each older window (see genesys.discovery.WindowBook)."""
        with self.engine.connect() as connection:
            scans = window_sql.load(connection)
        if self.org is None:
            return scans
        mine = f"{self.org}@"  # each org's windows under its own keys: one org's look is not another's
        return {key.removeprefix(mine): at for key, at in scans.items() if key.startswith(mine)}

    def save_window_scans(self, scans: Mapping[str, datetime]) -> None:
        if self.org is not None:
            scans = {f"{self.org}@{key}": at for key, at in scans.items()}
        with self._writer.begin() as connection:
            window_sql.save(connection, scans)
