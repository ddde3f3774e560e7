"""Discovery: the asset links of shells (derived from the repository, or posted).

Revision ID: discovery_0001_asset_links
Revises: (none: the first revision of the titan_discovery branch)
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "discovery_0001_asset_links"
down_revision = None
branch_labels = ("titan_discovery",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "discovery_asset_links",
        sa.Column("shell_id", sa.Text, primary_key=True),
        sa.Column("source", sa.String(16), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_discovery_asset_links_name_value_shell_id", "discovery_asset_links", ["name", "value", "shell_id"]
    )


def downgrade() -> None:
    op.drop_table("discovery_asset_links")
