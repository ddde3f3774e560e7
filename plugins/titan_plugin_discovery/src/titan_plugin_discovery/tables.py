"""The plugin's one table, in SQLAlchemy Core: every asset link of every shell id it knows.

Its own MetaData (never the core's): the table belongs to the plugin's Alembic branch
(`migrations/`), which creates exactly what is declared here.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

DERIVED = "derived"
"""A link read from the shell's assetInformation by the write hook; replaced at every shell write."""
MANUAL = "manual"
"""A link posted through `POST /lookup/shells/{aasIdentifier}`; replaced only by the next such POST."""

asset_links = Table(
    "discovery_asset_links",
    metadata,
    # The natural key (shell, source, position) is the primary key: its index is the one a shell's
    # links are read, replaced and deleted by, so no surrogate key and second index to maintain.
    Column("shell_id", Text, primary_key=True),
    # DERIVED or MANUAL: the two sources never overwrite each other.
    Column("source", String(16), primary_key=True),
    # Order of the link within its source, as the shell (or the POST) listed it.
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("name", Text, nullable=False),
    Column("value", Text, nullable=False),
    # The SpecificAssetId as compact JSON, as `GET /lookup/shells/{aasIdentifier}` serves it.
    Column("body", Text, nullable=False),
)
# Lookup by asset link: an equality on (name, value), then the matching shell ids in order (paging
# by shell id reads them from the index, sorted, without touching the table).
Index(
    "ix_discovery_asset_links_name_value_shell_id",
    asset_links.c.name,
    asset_links.c.value,
    asset_links.c.shell_id,
)
