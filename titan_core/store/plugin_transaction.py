"""`Repository.transaction`: a plugin's own writes and events in one write transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from titan_core.eventtypes.change import Change
from titan_core.eventtypes.kinds import check_plugin_change


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
