"""Reads and whole-identifiable writes of the Repository, and the transactional `edit` all others use.

Each write method owns its transaction, checks `if_match` against the identifiable's ETag, verifies,
stores the new JSON and records the `Change`s it made in the same transaction (the event outbox).
Writes to one identifiable are serialised by a row lock, so their changes are in commit order.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Connection, and_, bindparam, delete, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from titan_core.auth import ANONYMOUS, Principal, authorize_read, authorize_write
from titan_core.errors import BadRequest, Conflict, NotFound, PreconditionFailed, TitanError
from titan_core.eventtypes.change import Change
from titan_core.model.elements import find_element
from titan_core.model.paths import parse_id_short_path
from titan_core.model.verify import parse_and_verify
from titan_core.store.database import Database
from titan_core.store.documents import DocumentFacts, facts_of
from titan_core.store.group_commit import GroupCommitter
from titan_core.store.outbox import OutboxRecorder
from titan_core.store.records import (
    KIND_LABELS,
    Attachment,
    Kind,
    Page,
    StoredIdentifiable,
)
from titan_core.store.scoped_reads import readable_rows
from titan_core.store.tables import attachments, identifiables, shell_asset_ids
from titan_core.store.value_changes import value_changes

ENTITY_OF_KIND = {"shell": "shell", "submodel": "submodel", "concept_description": "concept_description"}


class ChangeRecorder(Protocol):
    """Receives a write's changes inside its transaction (the event outbox implements this)."""

    async def record(
        self,
        connection: AsyncConnection,
        changes: Sequence[Change],
        *,
        origin: str,
        subject: str | None = None,
    ) -> None:
        """`subject`: who made the change (the principal's subject), for the audit trail."""

    def record_in(
        self, connection: Connection, changes: Sequence[Change], *, origin: str, subject: str | None = None
    ) -> None:
        """The same for synchronous code (the group commit's transactions)."""


# A document edit: given the current document (a private copy), return the new one and its changes.
DocumentEdit = Callable[[dict[str, Any]], tuple[dict[str, Any], list[Change]]]


def dump_json(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


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
    def __init__(self, database: Database, *, recorder: ChangeRecorder | None = None) -> None:
        self.database = database
        self._group_commit = GroupCommitter(self)
        # Every Repository records its events, `titan load` included: the outbox is not optional.
        self.recorder: ChangeRecorder = recorder or OutboxRecorder()

    # ---------------------------------------------------------------- reads

    async def get(
        self, kind: Kind, identifier: str, *, principal: Principal = ANONYMOUS
    ) -> StoredIdentifiable:
        authorize_read(principal, identifier)
        rows = self.database.point_read(_POINT_READ, (kind, identifier))
        if rows is not None:
            stored = _stored(kind, _Row(*rows[0])) if rows else None
        else:
            async with self.database.read() as connection:
                stored = await self._select(connection, kind, identifier)
        if stored is None:
            raise _not_found(kind, identifier)
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
        principal: Principal = ANONYMOUS,
    ) -> Page:
        """One page in insertion order; filters combine with AND."""
        after = decode_cursor(cursor) if cursor else 0
        query = (
            select(*_COLUMNS)
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
        items = [_stored(kind, row) for row in rows[:limit]]
        next_cursor = encode_cursor(items[-1].pk) if len(rows) > limit else None
        return Page(items=items, next_cursor=next_cursor)

    async def get_attachment(
        self, kind: Kind, identifier: str, path: str, *, principal: Principal = ANONYMOUS
    ) -> Attachment:
        authorize_read(principal, identifier)
        async with self.database.read() as connection:
            stored = await self._select(connection, kind, identifier)
            if stored is None:
                raise _not_found(kind, identifier)
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
        principal: Principal = ANONYMOUS,
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
                [_identifiable_change("created", kind, facts, verified)],
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
        principal: Principal = ANONYMOUS,
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
            _check_if_match(kind, identifier, current, if_match)
            if current is None:
                stored = await self._insert(connection, kind, verified, facts)
                changes = [_identifiable_change("created", kind, facts, verified)]
                created = True
            else:
                body = dump_json(verified)
                if body == current.body:
                    return current, False
                stored = await self._update(connection, current, verified, facts, body)
                await self._drop_orphaned_attachments(connection, current, verified)
                changes = [_identifiable_change("updated", kind, facts, verified)]
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
        principal: Principal = ANONYMOUS,
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
        principal: Principal = ANONYMOUS,
        if_match: str | None = None,
    ) -> None:
        authorize_write(principal, identifier)
        async with self.database.write() as connection:
            current = await self._select(connection, kind, identifier, lock=True)
            if current is None:
                raise _not_found(kind, identifier)
            _check_if_match(kind, identifier, current, if_match)
            document = current.document()
            await connection.execute(delete(attachments).where(attachments.c.owner_pk == current.pk))
            await connection.execute(delete(shell_asset_ids).where(shell_asset_ids.c.shell_pk == current.pk))
            await connection.execute(delete(identifiables).where(identifiables.c.pk == current.pk))
            facts = facts_of(kind, document)
            await self.recorder.record(
                connection,
                [_identifiable_change("deleted", kind, facts, document)],
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
        principal: Principal = ANONYMOUS,
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
                raise _not_found(kind, identifier)
            _check_if_match(kind, identifier, current, if_match)
            new_document, changes = edit(current.document())
            if attachment_change is not None:
                await attachment_change(connection, current)
            body = dump_json(new_document)
            if body == current.body:
                return current
            facts = facts_of(kind, new_document)
            if facts.identifier != identifier:
                raise BadRequest(f"the id of a {KIND_LABELS[kind]} cannot be changed ({identifier!r})")
            stored = await self._update(connection, current, new_document, facts, body)
            await self._drop_orphaned_attachments(connection, current, new_document)
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

    # ---------------------------------------------------------------- for group_commit

    def select_for_update(
        self, connection: Connection, kind: Kind, identifier: str
    ) -> StoredIdentifiable | None:
        """For the group commit, whose transactions run as synchronous code (inline on SQLite)."""
        return self._select_in(connection, kind, identifier, lock=True)

    def not_found(self, kind: Kind, identifier: str) -> NotFound:
        return _not_found(kind, identifier)

    def check_if_match(self, kind: Kind, identifier: str, etag: str, if_match: str | None) -> None:
        _check_etag(kind, identifier, etag, if_match)

    def store_update(
        self,
        connection: Connection,
        current: StoredIdentifiable,
        document: dict[str, Any],
        facts: DocumentFacts,
        *,
        versions: int = 1,
    ) -> StoredIdentifiable:
        """For the group commit (synchronous, like `select_for_update`)."""
        return self._update_in(connection, current, document, facts, dump_json(document), versions=versions)

    # ---------------------------------------------------------------- internals

    async def _drop_orphaned_attachments(
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

    async def _select(
        self, connection: AsyncConnection, kind: Kind, identifier: str, *, lock: bool = False
    ) -> StoredIdentifiable | None:
        return await connection.run_sync(self._select_in, kind, identifier, lock=lock)

    def _select_in(
        self, connection: Connection, kind: Kind, identifier: str, *, lock: bool = False
    ) -> StoredIdentifiable | None:
        query = _SELECT_FOR_UPDATE if lock else _SELECT
        row = connection.execute(query, {"kind": kind, "identifier": identifier}).first()
        return None if row is None else _stored(kind, row)

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
        await connection.run_sync(_write_asset_ids, pk, facts)
        return StoredIdentifiable(pk, kind, facts.identifier, 1, body, facts.has_blob_values)

    async def _update(
        self,
        connection: AsyncConnection,
        current: StoredIdentifiable,
        document: dict[str, Any],
        facts: DocumentFacts,
        body: str,
    ) -> StoredIdentifiable:
        return await connection.run_sync(self._update_in, current, document, facts, body)

    def _update_in(
        self,
        connection: Connection,
        current: StoredIdentifiable,
        document: dict[str, Any],
        facts: DocumentFacts,
        body: str,
        *,
        versions: int = 1,
    ) -> StoredIdentifiable:
        # `versions` > 1: a group commit applied several writes, each of which counts as one.
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
            _write_asset_ids(connection, current.pk, facts)
        return StoredIdentifiable(
            current.pk, current.kind, current.identifier, version, body, facts.has_blob_values
        )


def _write_asset_ids(connection: Connection, pk: int, facts: DocumentFacts) -> None:
    if facts.asset_ids:
        connection.execute(
            insert(shell_asset_ids),
            [{"shell_pk": pk, "name": name, "value": value} for name, value in facts.asset_ids],
        )


class _InsertRace(Conflict):
    """The INSERT of a new identifiable lost to a concurrent one of the same id (a 409 unless retried)."""


_COLUMNS = (
    identifiables.c.pk,
    identifiables.c.identifier,
    identifiables.c.version,
    identifiables.c.body,
    identifiables.c.has_blob_values,
)
# Built once: building and keying a statement costs several times what SQLite takes to run it, and
# value writes run these for every document they change.
_SELECT = select(*_COLUMNS).where(
    identifiables.c.kind == bindparam("kind"), identifiables.c.identifier == bindparam("identifier")
)
_SELECT_FOR_UPDATE = _SELECT.with_for_update()
# Without .values(): the parameters of each execution name the columns to set.
_UPDATE = update(identifiables).where(identifiables.c.pk == bindparam("updated_pk"))


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


def _stored(kind: Kind, row: Any) -> StoredIdentifiable:
    return StoredIdentifiable(
        int(row.pk), kind, row.identifier, int(row.version), row.body, bool(row.has_blob_values)
    )


def _not_found(kind: Kind, identifier: str) -> NotFound:
    return NotFound(f"{KIND_LABELS[kind]} with id {identifier!r} not found")


def _check_if_match(
    kind: Kind, identifier: str, current: StoredIdentifiable | None, if_match: str | None
) -> None:
    if if_match is None:
        return
    if current is None:
        raise PreconditionFailed(
            f"If-Match {if_match} does not match: {KIND_LABELS[kind]} {identifier!r} does not exist"
        )
    _check_etag(kind, identifier, current.etag, if_match)


def _check_etag(kind: Kind, identifier: str, etag: str, if_match: str | None) -> None:
    if if_match is None:
        return
    candidates = [tag.strip() for tag in if_match.split(",")]
    if "*" in candidates:
        return
    # Weak comparison is not allowed for If-Match (RFC 9110 §13.1.1), but a W/ prefix added by a
    # proxy should not make a client's write fail, so it is ignored.
    normalised = {tag.removeprefix("W/") for tag in candidates}
    if etag not in normalised:
        raise PreconditionFailed(
            f"If-Match {if_match} does not match the current ETag {etag} of "
            f"{KIND_LABELS[kind]} {identifier!r}: it was changed by someone else; read it again"
        )


def _identifiable_change(
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
