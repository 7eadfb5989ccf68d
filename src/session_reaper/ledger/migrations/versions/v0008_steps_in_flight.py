"""v8: how long a step's request may still be on its way (`steps.in_flight_until`, wall time).

Set before each attempt of a step's request; recovery does not call a step "not sent" before then,
and a step settled meanwhile is never sent (docs/reliability.md, fix 9).

Revises 0007 (organizations).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable: a plain ADD COLUMN on both back ends; old rows were never marked in flight
    op.add_column("steps", sa.Column("in_flight_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("the ledger is never downgraded")
