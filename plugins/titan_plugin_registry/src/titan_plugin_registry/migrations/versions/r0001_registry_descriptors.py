"""The registry's tables: AAS descriptors and submodel descriptors (tables.py describes them).

The first revision of the plugin's own branch: no parent, labelled `titan_registry`. It touches no
table of the core's, so it depends on none of the core's revisions.

Revision ID: r0001_registry_descriptors
Revises:
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

# Alembic reads these four names.
revision, down_revision = "r0001_registry_descriptors", None
branch_labels, depends_on = ("titan_registry",), None

SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SHELLS = "registry_shell_descriptors"
SUBMODELS = "registry_submodel_descriptors"
# Table -> the lookup columns, and the indexes on them (a list is filtered and ordered by seq).
LOOKUPS = {
    SHELLS: ("id_short", "asset_kind", "asset_type", "global_asset_id"),
    SUBMODELS: ("id_short", "semantic_id"),
}
INDEXES = {
    SHELLS: (("asset_kind", "seq"), ("asset_type", "seq"), ("global_asset_id",)),
    SUBMODELS: (("semantic_id",),),
}


def upgrade() -> None:
    for table, lookup in LOOKUPS.items():
        op.create_table(
            table,
            sa.Column("seq", SEQUENCE, autoincrement=True),
            sa.Column("identifier", sa.Text, nullable=False),
            *(sa.Column(column, sa.Text, nullable=True) for column in lookup),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("body", sa.Text, nullable=False),
            sa.PrimaryKeyConstraint("seq", name=f"pk_{table}"),
            sa.UniqueConstraint("identifier", name=f"uq_{table}_identifier"),
            sqlite_autoincrement=True,
        )
        for columns in INDEXES[table]:
            op.create_index(f"ix_{table}_{'_'.join(columns)}", table, list(columns))


def downgrade() -> None:
    for table in reversed(LOOKUPS):
        op.drop_table(table)
