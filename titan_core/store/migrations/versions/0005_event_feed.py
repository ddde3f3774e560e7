"""What the event profiles and the Event Feed need on each outbox row (issue 15).

- `element`: the whole element of a valueChanged. The titan envelope carries only the value; the
  async-aas and BaSyx profiles and the feed's FULL records send the element as the change left it,
  so it is stored with the event rather than read again later (by then it may have changed again).
- `feed_type` and `titan_id`: the Event Feed's `type` and `subject`, extracted for its filter;
  indexed with `seq`, the feed's order.
- `event_semantic_keys`: every key value of the subject's semanticId, for the filter on
  `data.semanticId.keys[*].value` (one row per key; a semanticId may have several keys).

Rows written before this revision have none of these: the feed shows them with the type derived
from their envelope, and they match no semanticId filter.

Revision ID: 0005_event_feed
Revises: 0003_event_subject
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_event_feed"
down_revision = "0004_sink_positions"
branch_labels = None
depends_on = None

PrimaryKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Nullable columns: SQLite adds them in place, no batch copy of the table.
    op.add_column("event_outbox", sa.Column("element", sa.Text, nullable=True))
    op.add_column("event_outbox", sa.Column("feed_type", sa.String(64), nullable=True))
    op.add_column("event_outbox", sa.Column("titan_id", sa.Text, nullable=True))
    op.create_index("ix_event_outbox_feed_type_seq", "event_outbox", ["feed_type", "seq"])
    op.create_index("ix_event_outbox_titan_id_seq", "event_outbox", ["titan_id", "seq"])
    op.create_index("ix_event_outbox_created_at", "event_outbox", ["created_at"])
    op.create_table(
        "event_semantic_keys",
        sa.Column(
            "outbox_id",
            PrimaryKey,
            sa.ForeignKey("event_outbox.id", ondelete="CASCADE", name="fk_event_semantic_keys_outbox_id_event_outbox"),
            nullable=False,
        ),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_index("ix_event_semantic_keys_value_outbox_id", "event_semantic_keys", ["value", "outbox_id"])
    op.create_index("ix_event_semantic_keys_outbox_id", "event_semantic_keys", ["outbox_id"])


def downgrade() -> None:
    op.drop_table("event_semantic_keys")
    op.drop_index("ix_event_outbox_created_at", "event_outbox")
    op.drop_index("ix_event_outbox_titan_id_seq", "event_outbox")
    op.drop_index("ix_event_outbox_feed_type_seq", "event_outbox")
    with op.batch_alter_table("event_outbox") as batch:
        batch.drop_column("titan_id")
        batch.drop_column("feed_type")
        batch.drop_column("element")
