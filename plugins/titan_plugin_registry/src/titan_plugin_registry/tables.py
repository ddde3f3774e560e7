"""The registry's tables: each descriptor stored as its JSON text, beside the columns it is found by.

The plugin's own metadata (never the core's): its Alembic branch `titan_registry` creates these
tables (migrations/versions/), and the names start with `registry_` so they never meet the core's.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, Table, Text, UniqueConstraint

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
Sequence = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# `seq` orders the listing and is its cursor: rising with every insert, never reused (a deleted
# descriptor's seq stays gone), so a cursor never skips or repeats a descriptor. The ETag is built
# from seq and version, so a descriptor deleted and registered again gets a new one.
shell_descriptors = Table(
    "registry_shell_descriptors",
    metadata,
    Column("seq", Sequence, primary_key=True, autoincrement=True),
    Column("identifier", Text, nullable=False),
    Column("id_short", Text, nullable=True),
    Column("asset_kind", Text, nullable=True),
    Column("asset_type", Text, nullable=True),
    Column("global_asset_id", Text, nullable=True),
    Column("version", Integer, nullable=False),
    # The descriptor's JSON, compact, exactly as served.
    Column("body", Text, nullable=False),
    UniqueConstraint("identifier"),
    sqlite_autoincrement=True,
)
Index("ix_registry_shell_descriptors_asset_kind_seq", shell_descriptors.c.asset_kind, shell_descriptors.c.seq)
Index("ix_registry_shell_descriptors_asset_type_seq", shell_descriptors.c.asset_type, shell_descriptors.c.seq)
Index("ix_registry_shell_descriptors_global_asset_id", shell_descriptors.c.global_asset_id)

submodel_descriptors = Table(
    "registry_submodel_descriptors",
    metadata,
    Column("seq", Sequence, primary_key=True, autoincrement=True),
    Column("identifier", Text, nullable=False),
    Column("id_short", Text, nullable=True),
    # The value of the last key of the semanticId, for lookups by semantic id.
    Column("semantic_id", Text, nullable=True),
    Column("version", Integer, nullable=False),
    Column("body", Text, nullable=False),
    UniqueConstraint("identifier"),
    sqlite_autoincrement=True,
)
Index("ix_registry_submodel_descriptors_semantic_id", submodel_descriptors.c.semantic_id)
