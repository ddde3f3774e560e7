"""AASX File Server: packages as uploaded and the shells each holds.

Revision ID: 0006_aasx_packages
Revises: 0004_sink_positions
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_aasx_packages"
down_revision = "0005_event_feed"
branch_labels = None
depends_on = None

PrimaryKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "aasx_packages",
        sa.Column("pk", PrimaryKey, primary_key=True, autoincrement=True),
        sa.Column("package_id", sa.String(128), nullable=False),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pk", name="pk_aasx_packages"),
        sa.UniqueConstraint("package_id", name="uq_aasx_packages_package_id"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "aasx_package_shells",
        sa.Column("package_pk", PrimaryKey, nullable=False),
        sa.Column("aas_id", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["package_pk"],
            ["aasx_packages.pk"],
            name="fk_aasx_package_shells_package_pk_aasx_packages",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_aasx_package_shells_aas_id", "aasx_package_shells", ["aas_id"])
    op.create_index("ix_aasx_package_shells_package_pk", "aasx_package_shells", ["package_pk"])


def downgrade() -> None:
    op.drop_table("aasx_package_shells")
    op.drop_table("aasx_packages")
