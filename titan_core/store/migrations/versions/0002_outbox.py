"""Event outbox and relay lease.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PrimaryKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "event_outbox",
        sa.Column("id", PrimaryKey, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_event_outbox"),
    )
    op.create_index(
        "ix_event_outbox_unassigned",
        "event_outbox",
        ["id"],
        postgresql_where=sa.text("seq IS NULL"),
        sqlite_where=sa.text("seq IS NULL"),
    )
    op.create_index("uq_event_outbox_seq", "event_outbox", ["seq"], unique=True)
    relay = op.create_table(
        "event_relay",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("holder", sa.Text, nullable=True),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.Column("published_seq", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_event_relay"),
    )
    op.bulk_insert(
        relay, [{"name": "relay", "holder": None, "expires_at": 0, "last_seq": 0, "published_seq": 0}]
    )


def downgrade() -> None:
    op.drop_table("event_relay")
    op.drop_index("uq_event_outbox_seq", table_name="event_outbox")
    op.drop_index("ix_event_outbox_unassigned", table_name="event_outbox")
    op.drop_table("event_outbox")
