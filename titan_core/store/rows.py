"""The `identifiables` table row by row: the statements every write path shares.

Synchronous (`Connection`) so the group commit can run them inline on SQLite; the async paths run
them through `run_sync`. Built once: building and keying a statement costs several times what
SQLite takes to run it, and value writes run these for every document they change.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from titan_core.store.documents import DocumentFacts
from titan_core.store.records import Kind, StoredIdentifiable
from titan_core.store.tables import identifiables, shell_asset_ids

COLUMNS = (
    identifiables.c.pk,
    identifiables.c.identifier,
    identifiables.c.version,
    identifiables.c.body,
    identifiables.c.has_blob_values,
)
SELECT_ROW = select(*COLUMNS).where(
    identifiables.c.kind == bindparam("kind"), identifiables.c.identifier == bindparam("identifier")
)
_SELECT_FOR_UPDATE = SELECT_ROW.with_for_update()
# Without .values(): the parameters of each execution name the columns to set.
_UPDATE = update(identifiables).where(identifiables.c.pk == bindparam("updated_pk"))


def dump_json(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def as_stored(kind: Kind, row: Any) -> StoredIdentifiable:
    """A row of `COLUMNS` as the Repository hands it out."""
    return StoredIdentifiable(
        int(row.pk),
        row.identifier,
        int(row.version),
        row.body,
        kind=kind,
        has_blob_values=bool(row.has_blob_values),
    )


def select_row(
    connection: Connection, kind: Kind, identifier: str, *, lock: bool = False
) -> StoredIdentifiable | None:
    """The stored identifiable; with `lock`, its row stays locked until the transaction ends."""
    query = _SELECT_FOR_UPDATE if lock else SELECT_ROW
    row = connection.execute(query, {"kind": kind, "identifier": identifier}).first()
    return None if row is None else as_stored(kind, row)


def update_row(
    connection: Connection,
    current: StoredIdentifiable,
    document: dict[str, Any],
    facts: DocumentFacts,
    body: str,
    *,
    versions: int = 1,
) -> StoredIdentifiable:
    """Store `document` (its JSON text `body`) over `current`, `versions` versions later.

    `versions` > 1: a group commit applied several writes, each of which counts as one.
    """
    version = current.version + versions
    connection.execute(
        _UPDATE,
        {
            "updated_pk": current.pk,
            "id_short": facts.id_short,
            "semantic_id": facts.semantic_id,
            "version": version,
            "body": body,
            "has_blob_values": facts.has_blob_values,
            "updated_at": datetime.now(UTC),
        },
    )
    if current.kind == "shell":
        connection.execute(delete(shell_asset_ids).where(shell_asset_ids.c.shell_pk == current.pk))
        write_asset_ids(connection, current.pk, facts)
    return StoredIdentifiable(
        current.pk,
        current.identifier,
        version,
        body,
        kind=current.kind,
        has_blob_values=facts.has_blob_values,
    )


def write_asset_ids(connection: Connection, pk: int, facts: DocumentFacts) -> None:
    if facts.asset_ids:
        connection.execute(
            insert(shell_asset_ids),
            [{"shell_pk": pk, "name": name, "value": value} for name, value in facts.asset_ids],
        )
