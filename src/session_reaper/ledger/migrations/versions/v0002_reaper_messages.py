"""v2: the ids of the messages the reaper sent, and the indexes the report and recovery read by.

The platform's read views carry message ids and times but no text: remembering which ids are the
reaper's own warning/closing texts is how mapping keeps them from counting as human activity.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reaper_messages",
        sa.Column("message_id", sa.String(128), primary_key=True),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_reaper_messages_conversation", "reaper_messages", ["conversation_id"])
    op.create_index("ix_decisions_decided_at", "decisions", ["decided_at"])
    pending = sa.text("outcome IS NULL")
    op.create_index("ix_steps_pending", "steps", ["id"], sqlite_where=pending, postgresql_where=pending)


def downgrade() -> None:
    raise NotImplementedError("the ledger is never downgraded")
