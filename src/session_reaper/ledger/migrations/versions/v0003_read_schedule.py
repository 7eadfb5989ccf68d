"""v3: the read schedule, so that one-shot sweeps (cron) skip what cannot become eligible yet.

Each row says a conversation need not be read before `not_before`, as decided at `decided_at` under
the policy fingerprinted in `policy`, for the conversation that started at `conversation_start`, while
its participants look as `participants_fingerprint` says (analytics: who is in it, whose segment ended).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "read_schedule",
        sa.Column("conversation_id", sa.String(128), primary_key=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conversation_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("policy", sa.String(64), nullable=False),
        sa.Column("participants_fingerprint", sa.String(64), nullable=True),
    )


def downgrade() -> None:
    raise NotImplementedError("the ledger is never downgraded")
