"""The svc test plugin's second revision: a column added, as a plugin's later release would."""

import sqlalchemy as sa
from alembic import op

# On the branch through its parent: no label, no dependency of its own.
revision, down_revision = "svcplug_0002", "svcplug_0001"


def upgrade() -> None:
    op.add_column("svcplug_shell_index", sa.Column("note", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("svcplug_shell_index") as batch:
        batch.drop_column("note")
