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

PrimaryKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "discovery_asset_links",
        sa.Column("pk", PrimaryKey, primary_key=True, autoincrement=True),
        sa.Column("shell_id", sa.Text, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_discovery_asset_links_name_value_shell_id", "discovery_asset_links", ["name", "value", "shell_id"]
    )
    op.create_index(
        "ix_discovery_asset_links_shell_id_source", "discovery_asset_links", ["shell_id", "source"]
    )


def downgrade() -> None:
    op.drop_table("discovery_asset_links")
