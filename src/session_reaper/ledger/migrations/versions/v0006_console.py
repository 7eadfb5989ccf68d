"""v6: the supervisor console: pending decisions, what operators did, who asked for a decision.

`pending_decisions`: a rule with `approval = true` journals its decision here and waits; at most one
row per conversation is `pending` (partial unique index), so replicas sharing the ledger pend it once.
`console_actions`: close now, exempt, lift, approve, reject — by whom and when. `decisions.operator`:
the console user a decision was carried out for (close now, an approval).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("decisions", sa.Column("operator", sa.String(200), nullable=True))
    op.create_table(
        "pending_decisions",
        sa.Column("decision_id", sa.String(64), primary_key=True),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("rule", sa.String(40), nullable=True),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("queue_id", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("operator", sa.String(200), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=True),
    )
    op.create_index("ix_pending_decisions_conversation", "pending_decisions", ["conversation_id"])
    waiting = sa.text("status = 'pending'")
    op.create_index(
        "ux_pending_decisions_waiting",
        "pending_decisions",
        ["conversation_id"],
        unique=True,
        sqlite_where=waiting,
        postgresql_where=waiting,
    )
    op.create_table(
        "console_actions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operator", sa.String(200), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.create_index("ix_console_actions_at", "console_actions", ["at"])


def downgrade() -> None:
    raise NotImplementedError("the ledger is never downgraded")
