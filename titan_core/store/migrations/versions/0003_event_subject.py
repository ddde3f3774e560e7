"""The subject that made each change, on its outbox row ("who changed what", issue 13).

A revision of its own, so that other migrations based on 0002 only need their `down_revision`
adjusted when both land.

Revision ID: 0003_event_subject
Revises: 0002
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_event_subject"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: rows written before this revision have no recorded subject. SQLite adds a nullable
    # column in place, so no batch copy of the table (and its partial index) is needed.
    op.add_column("event_outbox", sa.Column("subject", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("event_outbox") as batch:
        batch.drop_column("subject")
