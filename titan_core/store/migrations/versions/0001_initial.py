"""Initial schema: identifiables, shell asset ids, attachments.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

PrimaryKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "identifiables",
        sa.Column("pk", PrimaryKey, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("identifier", sa.Text, nullable=False),
        sa.Column("id_short", sa.Text, nullable=True),
        sa.Column("semantic_id", sa.Text, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("has_blob_values", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pk", name="pk_identifiables"),
        sa.UniqueConstraint("kind", "identifier", name="uq_identifiables_kind_identifier"),
        # Never reuse the pk of a deleted row: ETags and cursors are built from it.
        sqlite_autoincrement=True,
    )
    op.create_index("ix_identifiables_kind_pk", "identifiables", ["kind", "pk"])
    op.create_index("ix_identifiables_kind_id_short", "identifiables", ["kind", "id_short"])
    op.create_index("ix_identifiables_kind_semantic_id", "identifiables", ["kind", "semantic_id"])
    op.create_table(
        "shell_asset_ids",
        sa.Column("shell_pk", PrimaryKey, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["shell_pk"],
            ["identifiables.pk"],
            name="fk_shell_asset_ids_shell_pk_identifiables",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_shell_asset_ids_name_value", "shell_asset_ids", ["name", "value"])
    op.create_index("ix_shell_asset_ids_shell_pk", "shell_asset_ids", ["shell_pk"])
    op.create_table(
        "attachments",
        sa.Column("owner_pk", PrimaryKey, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("owner_pk", "path", name="pk_attachments"),
        sa.ForeignKeyConstraint(
            ["owner_pk"],
            ["identifiables.pk"],
            name="fk_attachments_owner_pk_identifiables",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("attachments")
    op.drop_table("shell_asset_ids")
    op.drop_table("identifiables")
