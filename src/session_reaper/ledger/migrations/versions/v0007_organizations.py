"""v7: organizations. Sweeps, decisions, the read schedule, pending decisions and console acts name
the org they were made for (NULL: the one unnamed organization of a deployment without `[orgs]`),
and org leases divide the organizations among replicas (one replica sweeps an org at a time), each
replica saying it is alive in `replicas` so that the others know how many share the orgs.

Revises 0006 (the console's pending decisions).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable columns: a plain ADD COLUMN on both back ends, old rows stay the unnamed org's
    op.add_column("sweeps", sa.Column("org", sa.String(200), nullable=True))
    op.add_column("decisions", sa.Column("org", sa.String(200), nullable=True))
    op.add_column("read_schedule", sa.Column("org", sa.String(200), nullable=True))
    op.create_index("ix_decisions_org_decided_at", "decisions", ["org", "decided_at"])
    # the console acts through a conversation's org: its pending decisions and acts say which
    op.add_column("pending_decisions", sa.Column("org", sa.String(200), nullable=True))
    op.add_column("console_actions", sa.Column("org", sa.String(200), nullable=True))
    op.create_table(
        "org_leases",
        sa.Column("org", sa.String(200), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "replicas",
        sa.Column("owner", sa.String(200), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the ledger is never downgraded")
