"""Importing a whole environment (a file of `titan load`, a package posted to /packages) in ONE transaction.

Each identifiable is created or replaced by its id as PUT would (same events: `created`, or `updated`
plus `valueChanged` for changed element values), and the package files its File values name are
stored as their attachments. If anything fails, nothing of the environment is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from titan_core.auth import ANONYMOUS, Principal, authorize_write
from titan_core.store.documents import facts_of
from titan_core.store.identifiable_store import IdentifiableStore, _identifiable_change, dump_json
from titan_core.store.records import Attachment, Change, Kind, StoredIdentifiable
from titan_core.store.tables import attachments
from titan_core.store.value_changes import value_changes

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


class EnvironmentImport(IdentifiableStore):
    async def import_environment(
        self,
        environment: dict[str, Any],
        *,
        files: Sequence[tuple[Kind, str, str, Attachment]] = (),
        origin: str,
        principal: Principal = ANONYMOUS,
        connection: AsyncConnection | None = None,
    ) -> ImportCounts:
        """Upsert every identifiable of `environment` (VERIFIED Part 2 JSON: the caller ran
        `parse_and_verify("environment", …)`) and store `files` (kind, id, idShortPath, attachment).

        With `connection`, the import joins the caller's transaction (a package upload stores the
        package row in the same one); otherwise it opens its own.
        """
        documents = [(kind, item) for section, kind in SECTIONS for item in (environment.get(section) or ())]
        for _kind, item in documents:
            authorize_write(principal, item["id"])
        by_owner: dict[tuple[Kind, str], list[tuple[str, Attachment]]] = {}
        for kind, identifier, path, attachment in files:
            by_owner.setdefault((kind, identifier), []).append((path, attachment))
        if connection is not None:
            return await self._import_in(connection, documents, by_owner, origin, principal.subject)
        async with self.database.write() as own:
            return await self._import_in(own, documents, by_owner, origin, principal.subject)

    async def _import_in(
        self,
        connection: AsyncConnection,
        documents: list[tuple[Kind, dict[str, Any]]],
        files: dict[tuple[Kind, str], list[tuple[str, Attachment]]],
        origin: str,
        subject: str | None,
    ) -> ImportCounts:
        counts = ImportCounts()
        changes: list[Change] = []
        for kind, document in documents:
            facts = facts_of(kind, document)
            counts.identifiables.append((kind, facts.identifier))
            current = await self._select(connection, kind, facts.identifier, lock=True)
            if current is None:
                stored = await self._insert(connection, kind, document, facts)
                changes.append(_identifiable_change("created", kind, facts, document))
                counts.created += 1
            else:
                body = dump_json(document)
                stored = current
                if body != current.body:
                    stored = await self._update(connection, current, document, facts, body)
                    await self._drop_orphaned_attachments(connection, current, document)
                    changes.append(_identifiable_change("updated", kind, facts, document))
                    if kind == "submodel":
                        changes += value_changes(facts.identifier, current.document(), document)
            files_changed = await self._store_files(
                connection, stored, files.get((kind, facts.identifier), [])
            )
            if current is not None:
                if stored is not current or files_changed:
                    counts.updated += 1
                else:
                    counts.unchanged += 1
        if changes:
            await self.recorder.record(connection, changes, origin=origin, subject=subject)
        return counts

    async def _store_files(
        self, connection: AsyncConnection, owner: StoredIdentifiable, files: list[tuple[str, Attachment]]
    ) -> bool:
        """Store the attachments that differ from what is stored; whether any did."""
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
            await self.store_attachment(connection, owner, path, attachment)
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
