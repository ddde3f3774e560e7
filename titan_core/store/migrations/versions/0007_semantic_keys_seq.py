"""The Event Feed's semanticId filter as one index range: `event_semantic_keys.seq` (issue 15).

The filter on `data.semanticId.keys[*].value` used to find the matching outbox ids in the key
index, then fetch every one of those rows to order them by `seq` and keep a page: its cost grew
with the number of matching events (p99 76-90 ms a page for 1,000 matches out of 100,000 events on
PostgreSQL, under load; docs/performance.md). With `seq` beside the key value and an index on
`(value, seq)`, PostgreSQL reads the matching seqs from the index alone and walks the outbox's seq
index only as far as one page. The relay sets `seq` here in the transaction that assigns it to the
outbox row; rows numbered before this revision are filled in below.

Revision ID: 0007_semantic_keys_seq
Revises: 0006_aasx_packages
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_semantic_keys_seq"
down_revision = "0006_aasx_packages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: SQLite adds it in place; NULL until the relay numbers the row.
    op.add_column("event_semantic_keys", sa.Column("seq", sa.BigInteger, nullable=True))
    op.execute(
        "UPDATE event_semantic_keys SET seq = "
        "(SELECT event_outbox.seq FROM event_outbox WHERE event_outbox.id = event_semantic_keys.outbox_id)"
    )
    op.create_index("ix_event_semantic_keys_value_seq", "event_semantic_keys", ["value", "seq"])


def downgrade() -> None:
    op.drop_index("ix_event_semantic_keys_value_seq", "event_semantic_keys")
    with op.batch_alter_table("event_semantic_keys") as batch:
        batch.drop_column("seq")
