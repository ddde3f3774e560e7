"""`Repository.transaction`: a plugin's own writes and events in one write transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from titan_core.eventtypes.change import Change
from titan_core.eventtypes.kinds import check_plugin_change
from titan_core.store.records import Kind, StoredDocument
from titan_core.store.rows import COLUMNS, as_stored
from titan_core.store.tables import identifiables

# Identifiers per statement: well below SQLite's and PostgreSQL's limits on bound parameters.
_READ_CHUNK = 500


class PluginTransaction:
    """The open write transaction of `Repository.transaction(...)`.

    `connection` runs the plugin's statements (SQLAlchemy Core on its own tables); `record(...)`
    queues changes, stored in the outbox when the block ends, in the same transaction.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self.changes: list[Change] = []

    def record(self, *changes: Change) -> None:
        """Queue `changes` for the outbox; a change no event could be made of is refused here."""
        for change in changes:
            if not isinstance(change, Change):
                raise TypeError(f"record() takes Change objects, got {type(change).__name__}")
            check_plugin_change(change)
        self.changes.extend(changes)

    async def identifiables(self, kind: Kind, identifiers: Sequence[str]) -> list[StoredDocument]:
        """The stored identifiables of `kind` among `identifiers` (those that exist), as this
        transaction sees them, locked until it ends (plugin API 1.2).

        For a plugin that keeps rows derived from the repository's documents and must bring them
        up to date without racing the core's writes (whose `titan_write_transaction` hooks keep
        them in step): no write of these documents commits between this read and the end of the
        block. On PostgreSQL the rows are locked (`FOR UPDATE`, as the core's own writes lock
        them); on SQLite the write transaction already excludes every other writer. Read a few
        hundred at a time: they stay locked while the block runs.
        """
        found: list[StoredDocument] = []
        unique = list(dict.fromkeys(identifiers))
        for start in range(0, len(unique), _READ_CHUNK):
            query = (
                select(*COLUMNS)
                .where(
                    identifiables.c.kind == kind,
                    identifiables.c.identifier.in_(unique[start : start + _READ_CHUNK]),
                )
                .with_for_update()
            )
            if self.connection.dialect.name != "sqlite":
                # PostgreSQL locks the rows in the order it returns them: primary-key order, the one
                # lock order of every writer, so no two transactions deadlock. SQLite, which locks
                # no rows, would answer ORDER BY by walking every row of the kind in pk order.
                query = query.order_by(identifiables.c.pk)
            found += [as_stored(kind, row) for row in await self.connection.execute(query)]
        return sorted(found, key=lambda stored: stored.pk)
