"""v9: the platform's last count of each OAuth client (`platform_counts`), shared by restarts and
replicas, so that a process started into a window its predecessors filled does not send blind.

Revises 0008 (steps in flight).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "platform_counts",
        sa.Column("client", sa.String(64), primary_key=True),
        sa.Column("allowed", sa.Integer, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("holds_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the ledger is never downgraded")
