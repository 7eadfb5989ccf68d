"""v1: sweeps, decisions, steps (intent and outcome) and conversation leases.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("apply", sa.Boolean, nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("finished_at", TIME),
        sa.Column("summary_json", sa.JSON),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sweep_id", sa.Integer, sa.ForeignKey("sweeps.id"), nullable=False),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("queue_id", sa.String(128)),
        sa.Column("channel", sa.String(40)),
        sa.Column("rule", sa.String(40)),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("outcome", sa.String(20)),
        sa.Column("reason", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("threshold_seconds", sa.Float),
        sa.Column("idle_seconds", sa.Float),
        sa.Column("platform_now", TIME),
        sa.Column("decided_at", TIME, nullable=False),
        sa.Column("outcome_at", TIME),
    )
    op.create_index("ix_decisions_conversation", "decisions", ["conversation_id"])
    op.create_table(
        "steps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("decision_id", sa.Integer, sa.ForeignKey("decisions.id"), nullable=False),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("participant_id", sa.String(128)),
        sa.Column("intent_at", TIME, nullable=False),
        sa.Column("outcome_at", TIME),
        sa.Column("outcome", sa.String(30)),
        sa.Column("http_status", sa.Integer),
        sa.Column("context_id", sa.String(128)),
        sa.Column("error_code", sa.String(200)),
        sa.Column("request_count", sa.Integer),
    )
    op.create_index("ix_steps_conversation_kind", "steps", ["conversation_id", "kind"])
    op.create_index("ix_steps_decision", "steps", ["decision_id"])
    op.create_table(
        "leases",
        sa.Column("conversation_id", sa.String(128), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("claimed_at", TIME, nullable=False),
    )


def downgrade() -> None:
    # A ledger is an audit trail: it is upgraded, never dropped.
    raise NotImplementedError("the ledger is never downgraded")
