"""The whole element of each valueChanged event, on its outbox row (issue 15).

The titan envelope of a valueChanged carries only the value; the async-aas and BaSyx profiles send
the element as it was after the change, so it is stored with the event rather than read again at
publish time (by then the element may have changed again).

Revision ID: 0004_event_element
Revises: 0003_event_subject
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_event_element"
down_revision = "0003_event_subject"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: only valueChanged rows carry it. SQLite adds a nullable column in place.
    op.add_column("event_outbox", sa.Column("element", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("event_outbox") as batch:
        batch.drop_column("element")
