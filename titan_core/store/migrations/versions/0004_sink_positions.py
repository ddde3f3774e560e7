"""Durable positions and fenced leases of `once` sinks; NOTIFY on outbox inserts (PostgreSQL).

Revision ID: 0004_sink_positions
Revises: 0003_event_subject
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_sink_positions"
down_revision = "0003_event_subject"
branch_labels = None
depends_on = None

# Statement-level: one notification per inserting statement, sent by PostgreSQL only when the
# transaction commits (and merged with identical ones of the same transaction).
_NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION titan_outbox_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('titan_outbox', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""
_NOTIFY_TRIGGER = """
CREATE TRIGGER titan_outbox_notify AFTER INSERT ON event_outbox
FOR EACH STATEMENT EXECUTE FUNCTION titan_outbox_notify()
"""


def upgrade() -> None:
    op.create_table(
        "event_sinks",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("holder", sa.Text, nullable=True),
        sa.Column("token", sa.BigInteger, nullable=False),
        sa.Column("renewed_at", sa.BigInteger, nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("lost_events", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_event_sinks"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_NOTIFY_FUNCTION)
        op.execute(_NOTIFY_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS titan_outbox_notify ON event_outbox")
        op.execute("DROP FUNCTION IF EXISTS titan_outbox_notify()")
    op.drop_table("event_sinks")
