"""v4: what the report charts, recorded when acting: queue names, and how long a rule's condition held.

`decisions.held_seconds`: how long the deciding rule's condition had held when it acted (its clock,
e.g. since the customer left); minus `threshold_seconds`, the reaction delay past the threshold.

One row per queue id the reaper acted in: its `name` from `GET /api/v2/routing/queues/{id}`, or no name
and the HTTP `status` that refused the read (403, 404): the report then shows the id. `read_at` is the
platform time of the read.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("decisions", sa.Column("held_seconds", sa.Float, nullable=True))
    op.create_table(
        "queues",
        sa.Column("queue_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(400), nullable=True),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the ledger is never downgraded")
