"""The svc test plugin's first revision: its own table, on its own branch, after the core's 0007."""

import sqlalchemy as sa
from alembic import op

revision = "svcplug_0001"
down_revision = None
branch_labels = ("svcplug",)
depends_on = "0007_semantic_keys_seq"


def upgrade() -> None:
    op.create_table(
        "svcplug_shell_index",
        sa.Column("shell_id", sa.Text, primary_key=True),
        sa.Column("origin", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("svcplug_shell_index")
