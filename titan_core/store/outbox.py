"""The outbox: each write's events are stored as envelopes in the write's own transaction.

A change without its events, or events without their change, cannot exist. The relay in this process
is woken once the transaction has committed (not before: it could not see the rows yet).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, event, insert
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from titan_core.eventtypes.change import Change
from titan_core.eventtypes.envelope import build_envelope, dump_envelope, stored_element, uuid7
from titan_core.eventtypes.feed_types import feed_type, semantic_key_values, subject_of
from titan_core.eventtypes.kinds import CORE_ENTITIES
from titan_core.eventtypes.schema import validate_envelope
from titan_core.store.tables import event_outbox, event_semantic_keys
from titan_core.store.write_types import WriteHook

_INSERT = insert(event_outbox)  # built once, as for every statement on the value-write path
# With semanticId keys to index, the rows' ids are needed for their `event_semantic_keys` rows.
_INSERT_RETURNING_IDS = insert(event_outbox).returning(event_outbox.c.id, sort_by_parameter_order=True)
_INSERT_KEYS = insert(event_semantic_keys)
# Set in the connection's `info` by `record` (how many events); read when the connection goes back to
# the pool.
_PENDING = "titan.outbox.pending"


class OutboxRecorder:
    """The `ChangeRecorder` of the Repository: one outbox row per change, in the transaction.

    `committed` is set after a transaction that recorded events has committed, once
    `wake_after_commit` has been called for the engines that write.

    `validate` checks each envelope against the marshmallow schema before it is stored. Envelopes
    come from one function (`build_envelope`) and the test suite validates every kind of event it
    produces, so the server does not pay for it (some 80 µs per event, a tenth of a device write).
    """

    def __init__(
        self,
        *,
        validate: bool = False,
        include_subject: bool = False,
        write_hooks: Sequence[WriteHook] = (),
    ) -> None:
        self.validate = validate
        # The plugins' `titan_write_transaction` implementations, resolved when the app was built
        # (the store never imports plugins); empty, as without such plugins, costs one test.
        self.write_hooks = tuple(write_hooks)
        # Whether envelopes carry `titansubject`; the `subject` column is written either way.
        self.include_subject = include_subject
        self.committed = asyncio.Event()
        self.committed_events = 0  # since start, for /metrics
        self._loop: asyncio.AbstractEventLoop | None = None

    async def record(
        self,
        connection: AsyncConnection,
        changes: Sequence[Change],
        *,
        origin: str,
        subject: str | None = None,
    ) -> None:
        if changes:
            await connection.run_sync(self.record_in, changes, origin=origin, subject=subject)

    def record_in(
        self, connection: Connection, changes: Sequence[Change], *, origin: str, subject: str | None = None
    ) -> None:
        if not changes:
            return
        if self.write_hooks:
            changes = self._with_hook_changes(connection, changes, origin, subject)
        moment = datetime.now(UTC)
        shown_subject = subject if self.include_subject else None
        rows = []
        keys: list[list[str]] = []
        for change in changes:
            event_id = uuid7()
            envelope = build_envelope(
                change, origin=origin, event_id=event_id, moment=moment, subject=shown_subject
            )
            if self.validate:
                validate_envelope(envelope, published=False)
            rows.append(
                {
                    "event_id": event_id,
                    "envelope": dump_envelope(envelope),
                    "created_at": moment,
                    "subject": subject,
                    "element": stored_element(change),
                    "feed_type": feed_type(change.entity, change.type),
                    "titan_id": change.identifier,
                }
            )
            keys.append(semantic_key_values(subject_of(change)))
        if any(keys):
            ids = connection.execute(_INSERT_RETURNING_IDS, rows).scalars().all()
            key_rows = [
                {"outbox_id": row_id, "value": value}
                for row_id, values in zip(ids, keys, strict=True)
                for value in values
            ]
            connection.execute(_INSERT_KEYS, key_rows)
        else:
            connection.execute(_INSERT, rows)
        info = connection.info
        info[_PENDING] = info.get(_PENDING, 0) + len(rows)

    def _with_hook_changes(
        self, connection: Connection, changes: Sequence[Change], origin: str, subject: str | None
    ) -> Sequence[Change]:
        """`changes` and, after them, those the write hooks returned. The hooks see the core's
        changes only: a plugin's own (`Repository.transaction`) and the hooks' results never reach
        them. An exception propagates: the caller's transaction rolls back, the write fails."""
        core_changes = tuple(change for change in changes if change.entity in CORE_ENTITIES)
        if not core_changes:
            return changes
        recorded = list(changes)
        for hook in self.write_hooks:
            added = hook(connection, core_changes, origin, subject)
            if added:
                recorded.extend(added)
        return recorded

    def wake_after_commit(self, engines: Sequence[Engine]) -> None:
        """Set `committed` whenever a connection of `engine` that recorded events is handed back.

        SQLAlchemy has no after-commit hook outside the ORM: its `commit` event fires before the
        database commits. A connection goes back to the pool only after its transaction ended, so
        the pool's `checkin` is the moment; a rollback clears the mark first.
        """
        self._loop = asyncio.get_running_loop()
        for engine in engines:
            event.listen(engine, "rollback", _forget_pending)
            event.listen(engine, "checkin", self._on_checkin)

    def stop_waking(self, engines: Sequence[Engine]) -> None:
        for engine in engines:
            with contextlib.suppress(Exception):
                event.remove(engine, "rollback", _forget_pending)
                event.remove(engine, "checkin", self._on_checkin)

    def _on_checkin(self, dbapi_connection: Any, connection_record: Any) -> None:
        committed = 0 if connection_record is None else connection_record.info.pop(_PENDING, 0)
        # An invalidated connection (no DBAPI connection left) comes back from a transaction that
        # failed: its events were never committed.
        if not committed or dbapi_connection is None:
            return
        self.committed_events += committed
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self.committed.set()
        else:  # a connection garbage-collected in another thread
            loop.call_soon_threadsafe(self.committed.set)


def _forget_pending(connection: Connection) -> None:
    # An invalidated connection (the database went away mid-transaction) has no DBAPI connection;
    # asking for its `info` would raise PendingRollbackError from inside the rollback and hide the
    # real error. Its mark is dropped when it is checked in (`_on_checkin`).
    if connection.invalidated or connection.closed:
        return
    connection.info.pop(_PENDING, None)
