"""The registry's tables: shell descriptors and submodel descriptors (tables.py describes them).

The first revision of the plugin's own branch: no parent, labelled `titan_registry`; it touches
no table of the core's, so it depends on none of the core's revisions.

Revision ID: r0001_registry_descriptors
Revises:
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "r0001_registry_descriptors"
down_revision = None
branch_labels = ("titan_registry",)
depends_on = None

SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "registry_shell_descriptors",
        sa.Column("seq", SEQUENCE, primary_key=True, autoincrement=True),
        sa.Column("identifier", sa.Text, nullable=False),
        sa.Column("id_short", sa.Text, nullable=True),
        sa.Column("asset_kind", sa.Text, nullable=True),
        sa.Column("asset_type", sa.Text, nullable=True),
        sa.Column("global_asset_id", sa.Text, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_registry_shell_descriptors"),
        sa.UniqueConstraint("identifier", name="uq_registry_shell_descriptors_identifier"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_registry_shell_descriptors_asset_kind_seq", "registry_shell_descriptors", ["asset_kind", "seq"]
    )
    op.create_index(
        "ix_registry_shell_descriptors_asset_type_seq", "registry_shell_descriptors", ["asset_type", "seq"]
    )
    op.create_index(
        "ix_registry_shell_descriptors_global_asset_id", "registry_shell_descriptors", ["global_asset_id"]
    )
    op.create_table(
        "registry_submodel_descriptors",
        sa.Column("seq", SEQUENCE, primary_key=True, autoincrement=True),
        sa.Column("identifier", sa.Text, nullable=False),
        sa.Column("id_short", sa.Text, nullable=True),
        sa.Column("semantic_id", sa.Text, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_registry_submodel_descriptors"),
        sa.UniqueConstraint("identifier", name="uq_registry_submodel_descriptors_identifier"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_registry_submodel_descriptors_semantic_id", "registry_submodel_descriptors", ["semantic_id"]
    )


def downgrade() -> None:
    op.drop_table("registry_submodel_descriptors")
    op.drop_table("registry_shell_descriptors")
