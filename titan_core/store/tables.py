"""The relational schema: identifiables stored as their verified Part 2 JSON, plus lookup columns.

Bodies are kept as the exact JSON text Titan serves, so a read never re-parses or re-verifies
what was checked when it was written.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
PrimaryKey = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

identifiables = Table(
    "identifiables",
    metadata,
    Column("pk", PrimaryKey, primary_key=True, autoincrement=True),
    # 'shell' | 'submodel' | 'concept_description'
    Column("kind", String(32), nullable=False),
    Column("identifier", Text, nullable=False),
    Column("id_short", Text, nullable=True),
    # Value of the last key of the semanticId (submodels), for the `semanticId` filter.
    Column("semantic_id", Text, nullable=True),
    # Bumped by every write; the ETag is derived from pk and version.
    Column("version", Integer, nullable=False),
    # The verified Part 2 JSON, compact, exactly as served.
    Column("body", Text, nullable=False),
    # Whether any Blob carries a value: only then must a default (withoutBlobValue) read rewrite it.
    Column("has_blob_values", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("kind", "identifier"),
    # Never reuse the pk of a deleted row: ETags and cursors are built from it.
    sqlite_autoincrement=True,
)
Index("ix_identifiables_kind_pk", identifiables.c.kind, identifiables.c.pk)
Index("ix_identifiables_kind_id_short", identifiables.c.kind, identifiables.c.id_short)
Index("ix_identifiables_kind_semantic_id", identifiables.c.kind, identifiables.c.semantic_id)

# Asset ids of shells (globalAssetId under the name "globalAssetId", and every specificAssetId),
# for the `assetIds` filter of GET /shells.
shell_asset_ids = Table(
    "shell_asset_ids",
    metadata,
    Column("shell_pk", PrimaryKey, ForeignKey("identifiables.pk", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("value", Text, nullable=False),
)
Index("ix_shell_asset_ids_name_value", shell_asset_ids.c.name, shell_asset_ids.c.value)
Index("ix_shell_asset_ids_shell_pk", shell_asset_ids.c.shell_pk)

# Contents of File elements (path = idShortPath) and shell thumbnails (path = "").
attachments = Table(
    "attachments",
    metadata,
    Column("owner_pk", PrimaryKey, ForeignKey("identifiables.pk", ondelete="CASCADE"), primary_key=True),
    Column("path", Text, primary_key=True),
    Column("content_type", Text, nullable=False),
    Column("file_name", Text, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

# --- Eventing (written by store/outbox.py, read by titan_core/delivery): the outbox and the relay lease ---

# Every write appends its events here in its own transaction. `seq` (the event's titanseq) is NULL
# until the relay assigns it, right before publishing; rows are published in `seq` order.
event_outbox = Table(
    "event_outbox",
    metadata,
    Column("id", PrimaryKey, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),
    # The CloudEvents envelope as compact JSON, without `titanseq` (added at publish).
    Column("envelope", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("seq", BigInteger, nullable=True),
    # Who made the change: the principal's subject (API key subject, JWT `sub`, the MQTT device
    # principal, the `titan load` operator). Kept whether or not the envelope carries it
    # (`events_include_subject`); NULL for rows written before migration 0003.
    Column("subject", Text, nullable=True),
    # valueChanged only: the whole element after the change (compact Part 2 JSON, Blob contents left
    # out). The titan envelope carries just the value; the async-aas and BaSyx profiles send the
    # element (titan_core/delivery/profiles.py). NULL for other events and rows before migration 0004.
    Column("element", Text, nullable=True),
    # The Event Feed's `type` (io.admin-shell.submodel.updated.v1, titan_core/eventtypes/feed_types.py)
    # and `subject` (the identifier, for elements of their submodel), for its filter (0004).
    Column("feed_type", String(64), nullable=True),
    Column("titan_id", Text, nullable=True),
)
Index("ix_event_outbox_feed_type_seq", event_outbox.c.feed_type, event_outbox.c.seq)
Index("ix_event_outbox_titan_id_seq", event_outbox.c.titan_id, event_outbox.c.seq)
Index("ix_event_outbox_created_at", event_outbox.c.created_at)

# Every key value of the semanticId of an event's subject, for the Event Feed's filter on
# `data.semanticId.keys[*].value`; deleted with its outbox row.
event_semantic_keys = Table(
    "event_semantic_keys",
    metadata,
    Column("outbox_id", PrimaryKey, ForeignKey("event_outbox.id", ondelete="CASCADE"), nullable=False),
    Column("value", Text, nullable=False),
    # The outbox row's seq, set by the relay when it numbers the row (NULL until then): the
    # semanticId filter reads the matching seqs from the (value, seq) index alone (0007).
    Column("seq", BigInteger, nullable=True),
)
Index("ix_event_semantic_keys_value_outbox_id", event_semantic_keys.c.value, event_semantic_keys.c.outbox_id)
Index("ix_event_semantic_keys_value_seq", event_semantic_keys.c.value, event_semantic_keys.c.seq)
Index("ix_event_semantic_keys_outbox_id", event_semantic_keys.c.outbox_id)
# The relay's one query: unassigned rows in insert-id order (a partial index stays tiny).
Index(
    "ix_event_outbox_unassigned",
    event_outbox.c.id,
    postgresql_where=event_outbox.c.seq.is_(None),
    sqlite_where=event_outbox.c.seq.is_(None),
)
Index("uq_event_outbox_seq", event_outbox.c.seq, unique=True)

# One row ("relay"): who may publish now (holder, until expires_at, epoch milliseconds), the last
# titanseq assigned, and the last one known to be on the bus.
event_relay = Table(
    "event_relay",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("holder", Text, nullable=True),
    Column("expires_at", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("published_seq", BigInteger, nullable=False),
)

# One row per `once` sink: its delivered position and its delivery lease, kept here rather than in
# Redis because Redis may restart empty (docs/architecture.md, "Delivery that survives Redis").
# `token` (the fencing token) grows by one with every change of holder; every write of the holder
# names it, so an instance that lost the lease cannot move the position. `renewed_at` is the
# holder's last renewal (epoch milliseconds); `lost_events` counts events the sink will never get.
event_sinks = Table(
    "event_sinks",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("holder", Text, nullable=True),
    Column("token", BigInteger, nullable=False),
    Column("renewed_at", BigInteger, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("lost_events", BigInteger, nullable=False),
)

# --- AASX File Server (/packages): packages kept as uploaded; their content is imported as twins ---

aasx_packages = Table(
    "aasx_packages",
    metadata,
    Column("pk", PrimaryKey, primary_key=True, autoincrement=True),
    # The packageId of the API (a UUID Titan assigns, or the one a PUT named).
    Column("package_id", String(128), nullable=False, unique=True),
    Column("file_name", Text, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    sqlite_autoincrement=True,
)

# The shells a package holds (its aasIds), for the `aasId` filter of GET /packages.
aasx_package_shells = Table(
    "aasx_package_shells",
    metadata,
    Column("package_pk", PrimaryKey, ForeignKey("aasx_packages.pk", ondelete="CASCADE"), nullable=False),
    Column("aas_id", Text, nullable=False),
)
Index("ix_aasx_package_shells_aas_id", aasx_package_shells.c.aas_id)
Index("ix_aasx_package_shells_package_pk", aasx_package_shells.c.package_pk)
