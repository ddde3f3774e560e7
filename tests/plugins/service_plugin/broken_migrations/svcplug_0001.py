"""A revision that fails when applied: it adds a column to a table that does not exist."""

import sqlalchemy as sa
from alembic import op

revision = "svcplug_0001"
down_revision = None
branch_labels = ("svcplug",)
depends_on = None


def upgrade() -> None:
    op.create_table("svcplug_shell_index", sa.Column("shell_id", sa.Text, primary_key=True))
    op.add_column("svcplug_no_such_table", sa.Column("note", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_table("svcplug_shell_index")
