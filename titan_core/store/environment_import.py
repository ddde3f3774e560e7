"""Importing a whole environment (a file of `titan load`, a package posted to /packages) in ONE transaction.

Each identifiable is created or replaced by its id as PUT would (same events: `created`, or `updated`
plus `valueChanged` for changed element values), and the package files its File values name are
stored as their attachments. If anything fails, nothing of the environment is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from titan_core.auth import Principal, authorize_write
from titan_core.eventtypes.change import Change
from titan_core.store.documents import DocumentFacts, facts_of
from titan_core.store.identifiable_store import IdentifiableStore, identifiable_change
from titan_core.store.records import Attachment, Kind, StoredIdentifiable
from titan_core.store.rows import COLUMNS, as_stored, dump_json
from titan_core.store.tables import attachments, identifiables, shell_asset_ids
from titan_core.store.value_changes import value_changes

# Identifiers per `IN (…)` list: well below SQLite's and asyncpg's parameter limits.
_IN_BATCH = 500

SECTIONS: tuple[tuple[str, Kind], ...] = (
    ("assetAdministrationShells", "shell"),
    ("submodels", "submodel"),
    ("conceptDescriptions", "concept_description"),
)


@dataclass
class ImportCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # (kind, identifier) of every identifiable of the environment, in its order.
    identifiables: list[tuple[Kind, str]] = field(default_factory=list)

    def add(self, other: ImportCounts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.identifiables.extend(other.identifiables)


FileAttachment = tuple[Kind, str, str, Attachment]  # kind, id, idShortPath, content


@dataclass
class _EnvironmentFile:
    """One environment to import: its identifiables by key (a later duplicate wins), its files."""

    documents: list[tuple[Kind, dict[str, Any]]]
    latest: dict[tuple[Kind, str], dict[str, Any]]
    files: dict[tuple[Kind, str], list[tuple[str, Attachment]]]
    counts: ImportCounts

    @classmethod
    def of(cls, environment: dict[str, Any], attachments: Sequence[FileAttachment]) -> _EnvironmentFile:
        documents = [(kind, item) for section, kind in SECTIONS for item in (environment.get(section) or ())]
        counts = ImportCounts()
        latest: dict[tuple[Kind, str], dict[str, Any]] = {}
        for kind, document in documents:
            key = (kind, document["id"])
            counts.identifiables.append(key)
            if key in latest:
                counts.updated += 1  # the environment names this id twice: the later one wins
            latest[key] = document
        by_owner: dict[tuple[Kind, str], list[tuple[str, Attachment]]] = {}
        for kind, identifier, path, attachment in attachments:
            by_owner.setdefault((kind, identifier), []).append((path, attachment))
        return cls(documents, latest, by_owner, counts)


class EnvironmentImport:
    """Whole environments in one transaction, and the attachment reads an export needs (one part of
    the `Repository`)."""

    def __init__(self, store: IdentifiableStore) -> None:
        self._store = store
        self.database = store.database

    async def import_environment(
        self,
        environment: dict[str, Any],
        *,
        files: Sequence[FileAttachment] = (),
        origin: str,
        principal: Principal,
        connection: AsyncConnection | None = None,
    ) -> ImportCounts:
        """Upsert every identifiable of `environment` (VERIFIED Part 2 JSON: the caller ran
        `parse_and_verify("environment", …)`) and store `files` (kind, id, idShortPath, attachment).

        With `connection`, the import joins the caller's transaction (a package upload stores the
        package row in the same one); otherwise it opens its own.
        """
        if connection is not None:
            return (await self.import_environments(connection, [(environment, files)], origin, principal))[0]
        async with self.database.write() as own:
            return (await self.import_environments(own, [(environment, files)], origin, principal))[0]

    async def import_environments(
        self,
        connection: AsyncConnection,
        environments: Sequence[tuple[dict[str, Any], Sequence[FileAttachment]]],
        origin: str,
        principal: Principal,
    ) -> list[ImportCounts]:
        """Import several VERIFIED environments (with their files) in the transaction of `connection`,
        one `ImportCounts` each, with the same rows, events and counts as importing them one after the
        other. Environments that share no identifiable are stored together, a few statements for all
        of them (`titan load` hands over a group of files); where one names an identifiable an earlier
        one holds, it is imported after them, as it would be alone."""
        files = [_EnvironmentFile.of(environment, attachments) for environment, attachments in environments]
        for item in files:
            for _kind, document in item.documents:
                authorize_write(principal, document["id"])
        counts: list[ImportCounts] = []
        start = 0
        while start < len(files):
            end, seen = start, set[tuple[Kind, str]]()
            while end < len(files) and seen.isdisjoint(files[end].latest):
                seen.update(files[end].latest)
                end += 1
            counts += await self._import_in(connection, files[start:end], origin, principal.subject)
            start = end
        return counts

    async def _import_in(
        self, connection: AsyncConnection, files: list[_EnvironmentFile], origin: str, subject: str | None
    ) -> list[ImportCounts]:
        # A few statements for all the files, not a few per identifiable: one locked SELECT of what
        # exists, one multi-row INSERT of what is new, one of their events. Round trips dominate a
        # load on PostgreSQL. The files name distinct identifiables (`import_environments`).
        current = await self._lock_existing(connection, [key for item in files for key in item.latest])
        changes: list[Change] = []
        new_rows: list[tuple[Kind, dict[str, Any], DocumentFacts]] = []
        stored: dict[tuple[Kind, str], StoredIdentifiable] = {}
        for item in files:
            for key, document in item.latest.items():
                kind = key[0]
                facts = facts_of(kind, document)
                before = current.get(key)
                if before is None:
                    new_rows.append((kind, document, facts))
                    changes.append(identifiable_change("created", kind, facts, document))
                    item.counts.created += 1
                    continue
                body = dump_json(document)
                if body == before.body:
                    stored[key] = before
                    continue
                stored[key] = await self._store.update_document(connection, before, document, facts, body)
                await self._store.drop_orphaned_attachments(connection, before, document)
                changes.append(identifiable_change("updated", kind, facts, document))
                if kind == "submodel":
                    changes += value_changes(facts.identifier, before.document(), document)
        stored.update(await self._insert_many(connection, new_rows))
        # The attachments of identifiables just created: nothing to compare or replace, one statement.
        await self._insert_attachments(
            connection,
            [(stored[key].pk, path, attachment) for item in files for key in item.latest
             if key not in current for path, attachment in item.files.get(key, [])],
        )  # fmt: skip
        for item in files:
            for key in item.latest:
                before = current.get(key)
                if before is None:
                    continue
                files_changed = await self._store_files(connection, stored[key], item.files.get(key, []))
                if stored[key] is not before or files_changed:
                    item.counts.updated += 1
                else:
                    item.counts.unchanged += 1
        if changes:
            await self._store.recorder.record(connection, changes, origin=origin, subject=subject)
        return [item.counts for item in files]

    async def _lock_existing(
        self, connection: AsyncConnection, keys: list[tuple[Kind, str]]
    ) -> dict[tuple[Kind, str], StoredIdentifiable]:
        """The stored identifiables of `keys`, locked: one statement for every kind (a round trip
        per kind was a third of a small file's import on PostgreSQL)."""
        found: dict[tuple[Kind, str], StoredIdentifiable] = {}
        for start in range(0, len(keys), _IN_BATCH):
            batch = keys[start : start + _IN_BATCH]
            by_kind: dict[Kind, list[str]] = {}
            for kind, identifier in batch:
                by_kind.setdefault(kind, []).append(identifier)
            query = (
                select(identifiables.c.kind, *COLUMNS)
                .where(
                    or_(
                        *(
                            and_(identifiables.c.kind == kind, identifiables.c.identifier.in_(wanted))
                            for kind, wanted in by_kind.items()
                        )
                    )
                )
                .order_by(identifiables.c.pk)  # one lock order for every writer
                .with_for_update()
            )
            for row in await connection.execute(query):
                found[(row.kind, row.identifier)] = as_stored(row.kind, row)
        return found

    async def _insert_many(
        self, connection: AsyncConnection, rows: list[tuple[Kind, dict[str, Any], DocumentFacts]]
    ) -> dict[tuple[Kind, str], StoredIdentifiable]:
        if not rows:
            return {}
        now = datetime.now(UTC)
        bodies = [dump_json(document) for _kind, document, _facts in rows]
        result = await connection.execute(
            insert(identifiables).returning(identifiables.c.pk, sort_by_parameter_order=True),
            [
                {
                    "kind": kind,
                    "identifier": facts.identifier,
                    "id_short": facts.id_short,
                    "semantic_id": facts.semantic_id,
                    "version": 1,
                    "body": body,
                    "has_blob_values": facts.has_blob_values,
                    "created_at": now,
                    "updated_at": now,
                }
                for (kind, _document, facts), body in zip(rows, bodies, strict=True)
            ],
        )
        pks = [int(pk) for pk in result.scalars()]
        asset_rows = [
            {"shell_pk": pk, "name": name, "value": value}
            for pk, (_kind, _document, facts) in zip(pks, rows, strict=True)
            for name, value in facts.asset_ids
        ]
        if asset_rows:
            await connection.execute(insert(shell_asset_ids), asset_rows)
        return {
            (kind, facts.identifier): StoredIdentifiable(
                pk, facts.identifier, 1, body, kind=kind, has_blob_values=facts.has_blob_values
            )
            for pk, (kind, _document, facts), body in zip(pks, rows, bodies, strict=True)
        }

    async def _insert_attachments(
        self, connection: AsyncConnection, rows: list[tuple[int, str, Attachment]]
    ) -> None:
        if rows:
            await connection.execute(
                insert(attachments),
                [
                    {
                        "owner_pk": owner_pk,
                        "path": path,
                        "content_type": attachment.content_type,
                        "file_name": attachment.file_name,
                        "data": attachment.data,
                    }
                    for owner_pk, path, attachment in rows
                ],
            )

    async def _store_files(
        self, connection: AsyncConnection, owner: StoredIdentifiable, files: list[tuple[str, Attachment]]
    ) -> bool:
        """Store the attachments of an identifiable that existed before the import where they differ
        from what is stored; whether any did."""
        changed = False
        for path, attachment in files:
            row = (
                await connection.execute(
                    select(attachments.c.content_type, attachments.c.file_name, attachments.c.data).where(
                        attachments.c.owner_pk == owner.pk, attachments.c.path == path
                    )
                )
            ).first()
            if row is not None and (row.content_type, row.file_name, bytes(row.data)) == (
                attachment.content_type,
                attachment.file_name,
                attachment.data,
            ):
                continue
            await self._store.store_attachment(connection, owner, path, attachment)
            changed = True
        return changed

    async def attachments_of(self, owner: StoredIdentifiable) -> dict[str, Attachment]:
        """Every attachment of one shell (path "": its thumbnail) or submodel (File idShortPaths), for export."""
        async with self.database.read() as connection:
            rows = (
                await connection.execute(
                    select(
                        attachments.c.path,
                        attachments.c.content_type,
                        attachments.c.file_name,
                        attachments.c.data,
                    ).where(attachments.c.owner_pk == owner.pk)
                )
            ).all()
        return {row.path: Attachment(row.content_type, row.file_name, bytes(row.data)) for row in rows}

    async def owners_with_attachments(self, kind: Kind) -> set[int]:
        """The pks of the identifiables of `kind` that have attachments (one indexed scan)."""
        from titan_core.store.tables import identifiables

        async with self.database.read() as connection:
            rows = await connection.execute(
                select(attachments.c.owner_pk)
                .distinct()
                .join(identifiables, identifiables.c.pk == attachments.c.owner_pk)
                .where(identifiables.c.kind == kind)
            )
            return {int(pk) for pk in rows.scalars()}
