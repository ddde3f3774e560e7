"""The registry's tables, as the queries see them: each descriptor stored as its JSON text, beside
the columns it is found by.

The plugin's own metadata (never the core's). The tables, their indexes and constraints are
created by the plugin's Alembic branch `titan_registry` (migrations/versions/); their names start
with `registry_` so they never meet the core's.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, MetaData, Table, Text

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
Sequence = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()


def _descriptor_table(name: str, *lookup: str) -> Table:
    """`seq` orders the listing and is its cursor: rising with every insert, never reused, so a
    cursor never skips or repeats a descriptor. The ETag is built from seq and version, so a
    descriptor deleted and registered again gets a new one. `lookup`: the columns it is found by."""
    return Table(
        name,
        metadata,
        Column("seq", Sequence, primary_key=True, autoincrement=True),
        Column("identifier", Text, nullable=False, unique=True),
        *(Column(column, Text, nullable=True) for column in lookup),
        Column("version", Integer, nullable=False),
        # The descriptor's JSON, compact, exactly as served.
        Column("body", Text, nullable=False),
        sqlite_autoincrement=True,
    )


shell_descriptors = _descriptor_table(
    "registry_shell_descriptors", "id_short", "asset_kind", "asset_type", "global_asset_id"
)
# `semantic_id`: the value of the last key of the semanticId.
submodel_descriptors = _descriptor_table("registry_submodel_descriptors", "id_short", "semantic_id")
