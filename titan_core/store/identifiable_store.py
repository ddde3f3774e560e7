"""Reads and whole-identifiable writes of the Repository, and the transactional `edit` all others use.

Each write method owns its transaction, checks `if_match` against the identifiable's ETag, verifies,
stores the new JSON and records the `Change`s it made in the same transaction (the event outbox).
Writes to one identifiable are serialised by a row lock, so their changes are in commit order.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, delete, exists, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from titan_core.auth import Principal, authorize_read, authorize_write
from titan_core.errors import BadRequest, Conflict, NotFound, PreconditionFailed, TitanError
from titan_core.eventtypes.change import Change
from titan_core.model.elements import find_element
from titan_core.model.paths import parse_id_short_path
from titan_core.model.verify import parse_and_verify
from titan_core.store.database import Database
from titan_core.store.documents import DocumentFacts, facts_of
from titan_core.store.group_commit import GroupCommitter
from titan_core.store.preconditions import check_if_match, not_found
from titan_core.store.records import KIND_LABELS, Attachment, Kind, Page, StoredIdentifiable
from titan_core.store.rows import (
    COLUMNS,
    SELECT_ROW,
    as_stored,
    dump_json,
    select_row,
    update_row,
    write_asset_ids,
)
from titan_core.store.scoped_reads import readable_rows
from titan_core.store.tables import attachments, identifiables, shell_asset_ids
from titan_core.store.value_changes import value_changes
from titan_core.store.write_types import ChangeRecorder, DocumentEdit

ENTITY_OF_KIND = {"shell": "shell", "submodel": "submodel", "concept_description": "concept_description"}


def encode_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(str(pk).encode()).decode().rstrip("=")


# The largest position a cursor may name: the largest signed 64-bit integer.
MAX_CURSOR_POSITION = 2**63 - 1
_CURSOR_DIGITS = re.compile(r"[0-9]{1,19}")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        digits = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
    except (ValueError, UnicodeError, binascii.Error):
        digits = ""
    # Only what `encode_cursor` makes: plain decimal digits of a position both databases can store
    # (a larger number overflowed SQLite's and PostgreSQL's 64-bit integers: a 500, issue 13 L5).
    if not _CURSOR_DIGITS.fullmatch(digits) or int(digits) > MAX_CURSOR_POSITION:
        raise BadRequest(
            f"cursor {cursor!r} is not valid: pass the paging_metadata.cursor of a previous page unchanged"
        )
    return int(digits)


class IdentifiableStore:
    """Reads, whole-identifiable writes and `edit`, the transaction every element and shell write uses.

    One part of the `Repository`; the group commit runs the batchable edits it is handed.
    """

    def __init__(self, database: Database, recorder: ChangeRecorder, group_commit: GroupCommitter) -> None:
        self.database = database
        self.recorder = recorder
        self._group_commit = group_commit

    # ---------------------------------------------------------------- reads

    async def get(self, kind: Kind, identifier: str, *, principal: Principal) -> StoredIdentifiable:
        authorize_read(principal, identifier)
        found: Sequence[Sequence[Any]] | None = self.database.point_read(_POINT_READ, (kind, identifier))
        if found is None:
            found = await self.database.fetch(SELECT_ROW, {"kind": kind, "identifier": identifier})
        stored = as_stored(kind, _Row(*found[0])) if found else None
        if stored is None:
            raise not_found(kind, identifier)
        return stored

    async def page(
        self,
        kind: Kind,
        *,
        limit: int,
        cursor: str | None = None,
        id_short: str | None = None,
        semantic_id: str | None = None,
        asset_ids: Sequence[tuple[str, str]] = (),
        principal: Principal,
    ) -> Page[StoredIdentifiable]:
        """One page in insertion order; filters combine with AND."""
        after = decode_cursor(cursor) if cursor else 0
        query = (
            select(*COLUMNS)
            .where(identifiables.c.kind == kind, identifiables.c.pk > after)
            .order_by(identifiables.c.pk)
            .limit(limit + 1)
        )
        if id_short is not None:
            query = query.where(identifiables.c.id_short == id_short)
        if semantic_id is not None:
            query = query.where(identifiables.c.semantic_id == semantic_id)
        for name, value in asset_ids:
            query = query.where(
                exists().where(
                    and_(
                        shell_asset_ids.c.shell_pk == identifiables.c.pk,
                        shell_asset_ids.c.name == name,
                        shell_asset_ids.c.value == value,
                    )
                )
            )
        async with self.database.read() as connection:
            rows = await readable_rows(connection, query, principal, limit=limit + 1)
        items = [as_stored(kind, row) for row in rows[:limit]]
        next_cursor = encode_cursor(items[-1].pk) if len(rows) > limit else None
        return Page(items=items, next_cursor=next_cursor)

    async def get_attachment(
        self, kind: Kind, identifier: str, path: str, *, principal: Principal
    ) -> Attachment:
        authorize_read(principal, identifier)
        async with self.database.read() as connection:
            stored = await self._select(connection, kind, identifier)
            if stored is None:
                raise not_found(kind, identifier)
            row = (
                await connection.execute(
                    select(attachments.c.content_type, attachments.c.file_name, attachments.c.data).where(
                        attachments.c.owner_pk == stored.pk, attachments.c.path == path
                    )
                )
            ).first()
        if row is None:
            where = f"element {path!r}" if path else "the asset information"
            raise NotFound(f"{where} of {KIND_LABELS[kind]} {identifier!r} has no attachment")
        return Attachment(content_type=row.content_type, file_name=row.file_name, data=bytes(row.data))

    # ---------------------------------------------------------------- identifiable writes

    async def create(
        self,
        kind: Kind,
        document: Any,
        *,
        origin: str,
        principal: Principal,
        if_match: str | None = None,
    ) -> StoredIdentifiable:
        """POST: a new identifiable; 409 if its id exists."""
        verified = parse_and_verify(kind, document).jsonable
        facts = facts_of(kind, verified)
        authorize_write(principal, facts.identifier)
        async with self.database.write() as connection:
            if await self._select(connection, kind, facts.identifier, lock=True) is not None:
                raise Conflict(f"{KIND_LABELS[kind]} with id {facts.identifier!r} already exists")
            if if_match is not None and if_match.strip() != "*":
                raise PreconditionFailed(
                    f"If-Match {if_match} does not match: {KIND_LABELS[kind]} {facts.identifier!r} does not exist"
                )
            stored = await self._insert(connection, kind, verified, facts)
            await self.recorder.record(
                connection,
                [identifiable_change("created", kind, facts, verified)],
                origin=origin,
                subject=principal.subject,
            )
        return stored

    async def put(
        self,
        kind: Kind,
        identifier: str,
        document: Any,
        *,
        origin: str,
        principal: Principal,
        if_match: str | None = None,
        lenient: bool = False,
    ) -> tuple[StoredIdentifiable, bool]:
        """PUT: replace the identifiable, or create it; returns (stored, created)."""
        authorize_write(principal, identifier)
        verified = parse_and_verify(kind, document, lenient=lenient).jsonable
        facts = facts_of(kind, verified)
        if facts.identifier != identifier:
            raise BadRequest(
                f"the id in the body ({facts.identifier!r}) differs from the id in the path ({identifier!r}); "
                "an identifiable's id cannot be changed by PUT"
            )
        try:
            return await self._put_once(
                kind, identifier, verified, facts, origin=origin, subject=principal.subject, if_match=if_match
            )
        except _InsertRace:
            # PUTs creating one id race past the row lock (there is no row to lock yet); the loser's
            # INSERT fails once the winner committed. Now the row exists: the retry locks and replaces it.
            return await self._put_once(
                kind, identifier, verified, facts, origin=origin, subject=principal.subject, if_match=if_match
            )

    async def _put_once(
        self,
        kind: Kind,
        identifier: str,
        verified: dict[str, Any],
        facts: DocumentFacts,
        *,
        origin: str,
        subject: str,
        if_match: str | None,
    ) -> tuple[StoredIdentifiable, bool]:
        async with self.database.write() as connection:
            current = await self._select(connection, kind, identifier, lock=True)
            check_if_match(kind, identifier, current, if_match)
            if current is None:
                stored = await self._insert(connection, kind, verified, facts)
                changes = [identifiable_change("created", kind, facts, verified)]
                created = True
            else:
                body = dump_json(verified)
                if body == current.body:
                    return current, False
                stored = await self.update_document(connection, current, verified, facts, body)
                await self.drop_orphaned_attachments(connection, current, verified)
                changes = [identifiable_change("updated", kind, facts, verified)]
                if kind == "submodel":
                    changes += value_changes(identifier, current.document(), verified)
                created = False
            await self.recorder.record(connection, changes, origin=origin, subject=subject)
        return stored, created

    async def upsert(
        self,
        kind: Kind,
        document: Any,
        *,
        origin: str,
        principal: Principal,
        lenient: bool = False,
    ) -> tuple[StoredIdentifiable, bool]:
        """`titan load`: create or replace by the id in the document."""
        if not isinstance(document, dict) or not isinstance(document.get("id"), str):
            # parse_and_verify gives the precise message for a document without an id.
            parse_and_verify(kind, document, lenient=lenient)
            raise BadRequest(f"the {KIND_LABELS[kind]} has no id")
        return await self.put(
            kind, document["id"], document, origin=origin, principal=principal, lenient=lenient
        )

    async def delete(
        self,
        kind: Kind,
        identifier: str,
        *,
        origin: str,
        principal: Principal,
        if_match: str | None = None,
    ) -> None:
        authorize_write(principal, identifier)
        async with self.database.write() as connection:
            current = await self._select(connection, kind, identifier, lock=True)
            if current is None:
                raise not_found(kind, identifier)
            check_if_match(kind, identifier, current, if_match)
            document = current.document()
            await connection.execute(delete(attachments).where(attachments.c.owner_pk == current.pk))
            await connection.execute(delete(shell_asset_ids).where(shell_asset_ids.c.shell_pk == current.pk))
            await connection.execute(delete(identifiables).where(identifiables.c.pk == current.pk))
            facts = facts_of(kind, document)
            await self.recorder.record(
                connection,
                [identifiable_change("deleted", kind, facts, document)],
                origin=origin,
                subject=principal.subject,
            )

    async def edit(
        self,
        kind: Kind,
        identifier: str,
        edit: DocumentEdit,
        *,
        origin: str,
        principal: Principal,
        if_match: str | None = None,
        attachment_change: Callable[[AsyncConnection, StoredIdentifiable], Awaitable[None]] | None = None,
        batchable: bool = False,
    ) -> StoredIdentifiable:
        """Apply `edit` to the current document under the row lock and store the result.

        The edit validates what it changes (callers pick the check: a value check for a value
        write, element verification for a structural one); the identifier cannot change here.
        `batchable` edits (value writes: they raise before they change anything, and cannot change
        the id) may share a transaction with other writes (`group_commit`).
        """
        authorize_write(principal, identifier)
        if batchable and attachment_change is None:
            return await self._group_commit.submit(
                kind, identifier, edit, origin=origin, subject=principal.subject, if_match=if_match
            )
        async with self.database.write() as connection:
            current = await self._select(connection, kind, identifier, lock=True)
            if current is None:
                raise not_found(kind, identifier)
            check_if_match(kind, identifier, current, if_match)
            new_document, changes = edit(current.document())
            if attachment_change is not None:
                await attachment_change(connection, current)
            body = dump_json(new_document)
            if body == current.body:
                return current
            facts = facts_of(kind, new_document)
            if facts.identifier != identifier:
                raise BadRequest(f"the id of a {KIND_LABELS[kind]} cannot be changed ({identifier!r})")
            stored = await self.update_document(connection, current, new_document, facts, body)
            await self.drop_orphaned_attachments(connection, current, new_document)
            await self.recorder.record(connection, changes, origin=origin, subject=principal.subject)
        return stored

    # ---------------------------------------------------------------- attachments

    async def store_attachment(
        self, connection: AsyncConnection, owner: StoredIdentifiable, path: str, attachment: Attachment
    ) -> None:
        await connection.execute(
            delete(attachments).where(attachments.c.owner_pk == owner.pk, attachments.c.path == path)
        )
        await connection.execute(
            insert(attachments).values(
                owner_pk=owner.pk,
                path=path,
                content_type=attachment.content_type,
                file_name=attachment.file_name,
                data=attachment.data,
            )
        )

    async def drop_attachments(
        self, connection: AsyncConnection, owner: StoredIdentifiable, path: str, *, below: bool = False
    ) -> int:
        """Delete the attachment at `path` (and, with `below`, those of elements under it)."""
        condition = attachments.c.path == path
        if below:
            condition = condition | attachments.c.path.startswith(path + ".", autoescape=True)
            condition = condition | attachments.c.path.startswith(path + "[", autoescape=True)
        result = await connection.execute(
            delete(attachments).where(attachments.c.owner_pk == owner.pk, condition)
        )
        return int(result.rowcount or 0)

    async def drop_orphaned_attachments(
        self, connection: AsyncConnection, owner: StoredIdentifiable, document: dict[str, Any]
    ) -> None:
        """Delete stored file contents that no File element (or thumbnail) of `document` owns any more.

        A whole-document write can remove a File; its content must not come back when a File of the
        same path appears again later. One indexed query when the owner has no attachments.
        """
        paths = (
            (await connection.execute(select(attachments.c.path).where(attachments.c.owner_pk == owner.pk)))
            .scalars()
            .all()
        )
        orphans = [path for path in paths if not _owns_attachment(document, path)]
        if orphans:
            await connection.execute(
                delete(attachments).where(attachments.c.owner_pk == owner.pk, attachments.c.path.in_(orphans))
            )

    # ---------------------------------------------------------------- for the other parts

    async def update_document(
        self,
        connection: AsyncConnection,
        current: StoredIdentifiable,
        document: dict[str, Any],
        facts: DocumentFacts,
        body: str,
    ) -> StoredIdentifiable:
        """Store `document` (its JSON text `body`) over `current`, one version later."""
        return await connection.run_sync(update_row, current, document, facts, body)

    # ---------------------------------------------------------------- internals

    async def _select(
        self, connection: AsyncConnection, kind: Kind, identifier: str, *, lock: bool = False
    ) -> StoredIdentifiable | None:
        return await connection.run_sync(select_row, kind, identifier, lock=lock)

    async def _insert(
        self, connection: AsyncConnection, kind: Kind, document: dict[str, Any], facts: DocumentFacts
    ) -> StoredIdentifiable:
        now = datetime.now(UTC)
        body = dump_json(document)
        try:
            result = await connection.execute(
                insert(identifiables)
                .values(
                    kind=kind,
                    identifier=facts.identifier,
                    id_short=facts.id_short,
                    semantic_id=facts.semantic_id,
                    version=1,
                    body=body,
                    has_blob_values=facts.has_blob_values,
                    created_at=now,
                    updated_at=now,
                )
                .returning(identifiables.c.pk)
            )
        except IntegrityError:
            raise _InsertRace(f"{KIND_LABELS[kind]} with id {facts.identifier!r} already exists") from None
        pk = int(result.scalar_one())
        await connection.run_sync(write_asset_ids, pk, facts)
        return StoredIdentifiable(
            pk, facts.identifier, 1, body, kind=kind, has_blob_values=facts.has_blob_values
        )


class _InsertRace(Conflict):
    """The INSERT of a new identifiable lost to a concurrent one of the same id (a 409 unless retried)."""


def _owns_attachment(document: dict[str, Any], path: str) -> bool:
    if path == "":  # a shell's thumbnail
        return bool((document.get("assetInformation") or {}).get("defaultThumbnail"))
    try:
        return find_element(document, parse_id_short_path(path)).get("modelType") == "File"
    except TitanError:
        return False


_POINT_READ = (
    "SELECT pk, identifier, version, body, has_blob_values FROM identifiables "
    "WHERE kind = ? AND identifier = ?"
)


class _Row(NamedTuple):
    pk: int
    identifier: str
    version: int
    body: str
    has_blob_values: bool


def identifiable_change(
    change_type: Any, kind: Kind, facts: DocumentFacts, document: dict[str, Any]
) -> Change:
    entity: Any = ENTITY_OF_KIND[kind]
    return Change(
        type=change_type,
        entity=entity,
        identifier=facts.identifier,
        semantic_id=facts.semantic_id,
        data=document,
    )
