"""Group commit for value writes: value writes that arrive together share one transaction.

Device writes come at a thousand per second, often to the same submodel. One transaction each
queues them behind SQLite's single writer (or PostgreSQL's row lock) at a few hundred per second.
Instead, value writes wait while a transaction runs, and the next transaction applies all that
waited, in arrival order: each document is read and stored once per batch, yet each write still
gets its own If-Match check, its own version (ETag) and its own events, and fails alone.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from titan_core.errors import TitanError
from titan_core.eventtypes.change import Change
from titan_core.store.database import Database
from titan_core.store.documents import facts_of
from titan_core.store.outage import database_unavailable
from titan_core.store.preconditions import check_etag, not_found
from titan_core.store.records import Kind, StoredIdentifiable
from titan_core.store.rows import dump_json, select_row, update_row
from titan_core.store.write_types import ChangeRecorder, DocumentEdit

log = logging.getLogger(__name__)

# Bounds the time one transaction holds the write lock (and the events one commit carries).
MAX_BATCH = 256


@dataclass
class _Pending:
    kind: Kind
    identifier: str
    edit: DocumentEdit
    origin: str
    subject: str
    if_match: str | None
    future: asyncio.Future[StoredIdentifiable]


@dataclass
class _Target:
    """One identifiable as the batch goes: read once, edited by each write in turn."""

    current: StoredIdentifiable
    document: dict[str, Any]
    versions: int = 0
    # (origin, subject, changes) of each write that changed something, in order.
    recorded: list[tuple[str, str, list[Change]]] = field(default_factory=list)
    waiting: list[_Pending] = field(default_factory=list)


class GroupCommitter:
    """Runs submitted value edits in shared transactions, one batch at a time.

    Contract for the edits: an edit that raises has not changed the document it was given (value
    edits validate before they replace the element), because the document is shared by the batch.

    It needs only the database, the shared row statements (`rows`) and the recorder of the
    changes: it never calls back into the Repository that submits to it.
    """

    def __init__(self, database: Database, recorder: ChangeRecorder) -> None:
        self._database = database
        self._recorder = recorder
        self._queue: list[_Pending] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(
        self,
        kind: Kind,
        identifier: str,
        edit: DocumentEdit,
        *,
        origin: str,
        subject: str,
        if_match: str | None,
    ) -> StoredIdentifiable:
        future: asyncio.Future[StoredIdentifiable] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(kind, identifier, edit, origin, subject, if_match, future))
        if self._drainer is None or self._drainer.done():
            # A task of its own: a client that disconnects must not cancel the others' transaction.
            self._drainer = asyncio.create_task(self._drain(), name="titan-group-commit")
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                await self._commit(batch)
            except Exception as error:
                # The transaction failed as a whole (database trouble): every write in it failed.
                # An outage is logged once by the database's watch, when the callers report it.
                if not isinstance(error, TitanError) and not database_unavailable(error):
                    log.exception("a group commit of %d value writes failed", len(batch))
                for pending in batch:
                    _settle(pending, error=error)

    async def _commit(self, batch: list[_Pending]) -> None:
        # Lock rows in one global order (stable, so each identifiable keeps its arrival order):
        # two instances' batches locking in arrival order could each hold a row the other wants.
        batch = sorted(batch, key=lambda pending: (pending.kind, pending.identifier))
        # Inline where it can: some sixty statements for a batch over twenty submodels, each a
        # round trip to the async driver's worker thread, cost more CPU than the writes themselves.
        targets = await self._database.run_write(lambda connection: self._apply(connection, batch))
        for target in targets.values():
            if target is not None:
                for pending in target.waiting:
                    _settle(pending, result=target.current)

    def _apply(self, connection: Connection, batch: list[_Pending]) -> dict[tuple[Kind, str], _Target | None]:
        """The batch's statements, in one transaction; refused writes are settled here, the others
        once it has committed."""
        targets: dict[tuple[Kind, str], _Target | None] = {}
        for pending in batch:
            key = (pending.kind, pending.identifier)
            if key not in targets:
                current = select_row(connection, pending.kind, pending.identifier, lock=True)
                targets[key] = None if current is None else _Target(current, current.document())
            target = targets[key]
            try:
                if target is None:
                    raise not_found(pending.kind, pending.identifier)
                check_etag(pending.kind, pending.identifier, _etag_of(target), pending.if_match)
                target.document, changes = pending.edit(target.document)
            except TitanError as error:
                _settle(pending, error=error)
                continue
            if changes:
                target.versions += 1
                target.recorded.append((pending.origin, pending.subject, changes))
            target.waiting.append(pending)
        for target in targets.values():
            if target is None or not target.recorded:
                continue
            facts = facts_of(target.current.kind, target.document)
            target.current = update_row(
                connection,
                target.current,
                target.document,
                facts,
                dump_json(target.document),
                versions=target.versions,
            )
            # One outbox insert per run of writes with the same origin and subject (usually the
            # whole batch: one device, or one gateway's principal).
            for origin, subject, changes in _runs_by_author(target.recorded):
                self._recorder.record_in(connection, changes, origin=origin, subject=subject)
        return targets


def _runs_by_author(recorded: list[tuple[str, str, list[Change]]]) -> list[tuple[str, str, list[Change]]]:
    """Consecutive writes of one origin and subject merged, their changes kept in order."""
    runs: list[tuple[str, str, list[Change]]] = []
    for origin, subject, changes in recorded:
        if runs and runs[-1][:2] == (origin, subject):
            runs[-1][2].extend(changes)
        else:
            runs.append((origin, subject, list(changes)))
    return runs


def _etag_of(target: _Target) -> str:
    return f'"{target.current.pk}-{target.current.version + target.versions}"'


def _settle(
    pending: _Pending, *, result: StoredIdentifiable | None = None, error: BaseException | None = None
) -> None:
    if pending.future.done():  # the caller went away; the write stands or falls with its batch
        return
    if error is not None:
        pending.future.set_exception(error)
    elif result is not None:
        pending.future.set_result(result)
