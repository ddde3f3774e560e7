"""The Repository: the one way to read and change the AAS repository (REST, transports, `titan load`).

Every write method takes `origin`, `principal` and `if_match`, owns its transaction and records the
changes it made in that same transaction. `principal` is required, on reads as on writes: a caller
that does not say who it acts for is a bug, never a reason to grant every role.

One class composed of parts, each in its own module, wired together here and nowhere else:
`identifiable_store` (reads, whole-identifiable writes, `edit`: the transaction all others use),
`element_writes`, `shell_writes`, `environment_import` (a whole environment in one transaction),
`packages` (the AASX File Server's packages), and `group_commit` (value writes sharing
transactions), which is handed only the database and the recorder.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from titan_core.auth import ROLE_WRITER, Principal
from titan_core.errors import Forbidden
from titan_core.store.database import Database
from titan_core.store.direct_reads import ReadStatement
from titan_core.store.element_writes import ElementWrites
from titan_core.store.environment_import import EnvironmentImport, ImportCounts
from titan_core.store.group_commit import GroupCommitter
from titan_core.store.identifiable_store import IdentifiableStore
from titan_core.store.outbox import OutboxRecorder
from titan_core.store.packages import Packages
from titan_core.store.plugin_transaction import PluginTransaction
from titan_core.store.shell_writes import ShellWrites, references_submodel
from titan_core.store.write_types import ChangeRecorder

__all__ = ["ImportCounts", "Repository", "references_submodel"]


class Repository:
    """Reads and writes of shells, submodels, their elements and concept descriptions, and packages.

    Its methods are its parts' methods, bound here (typed as they are declared there), so a caller
    holds one object while each module keeps one job.
    """

    def __init__(self, database: Database, *, recorder: ChangeRecorder | None = None) -> None:
        self.database = database
        # Every Repository records its events, `titan load` included: the outbox is not optional.
        self.recorder: ChangeRecorder = recorder or OutboxRecorder()
        self._group_commit = GroupCommitter(database, self.recorder)
        identifiables = IdentifiableStore(database, self.recorder, self._group_commit)
        elements = ElementWrites(identifiables)
        shells = ShellWrites(identifiables)
        environments = EnvironmentImport(identifiables)
        packages = Packages(database, environments)

        # Shells, submodels and concept descriptions as a whole.
        self.get = identifiables.get
        self.page = identifiables.page
        self.get_attachment = identifiables.get_attachment
        self.create = identifiables.create
        self.put = identifiables.put
        self.upsert = identifiables.upsert
        self.delete = identifiables.delete
        self.edit = identifiables.edit
        # Submodel elements, submodel values and metadata, File attachments.
        self.create_element = elements.create_element
        self.put_element = elements.put_element
        self.patch_element = elements.patch_element
        self.delete_element = elements.delete_element
        self.set_element_value = elements.set_element_value
        self.set_submodel_value = elements.set_submodel_value
        self.set_element_metadata = elements.set_element_metadata
        self.set_submodel_metadata = elements.set_submodel_metadata
        self.patch_submodel = elements.patch_submodel
        self.put_attachment = elements.put_attachment
        self.delete_attachment = elements.delete_attachment
        # A shell's asset information, thumbnail and submodel references.
        self.set_asset_information = shells.set_asset_information
        self.add_submodel_reference = shells.add_submodel_reference
        self.remove_submodel_reference = shells.remove_submodel_reference
        self.put_thumbnail = shells.put_thumbnail
        self.delete_thumbnail = shells.delete_thumbnail
        # Whole environments (`titan load`, packages) and the attachment reads of an export.
        self.import_environment = environments.import_environment
        self.import_environments = environments.import_environments
        self.attachments_of = environments.attachments_of
        self.owners_with_attachments = environments.owners_with_attachments
        # The AASX File Server.
        self.save_package = packages.save_package
        self.package_page = packages.package_page
        self.get_package = packages.get_package
        self.delete_package = packages.delete_package

    @asynccontextmanager
    async def transaction(self, principal: Principal, *, origin: str) -> AsyncIterator[PluginTransaction]:
        """A write transaction for a plugin's own rows and events (`plugin_api.PluginTransaction`).

        Statements run on `.connection`; changes passed to `.record(...)` are stored in the outbox
        when the block ends, and everything commits together (nothing, if the block raises).
        `principal` needs the writer role; its subject is the events' subject. The changes are of
        the plugins' own kinds, so the `titan_write_transaction` hooks (which see the core's
        changes only) are not called for them. Never call another write method of the Repository
        inside the block: the transaction holds the write lock (on SQLite the process's one
        writer), so that call would wait for the block, which waits for it.
        """
        if not principal.has_role(ROLE_WRITER):
            raise Forbidden(f"{principal.subject!r} may not write: that needs the role {ROLE_WRITER!r}")
        async with self.database.write() as connection:
            transaction = PluginTransaction(connection)
            yield transaction
            await self.recorder.record(
                connection, transaction.changes, origin=origin, subject=principal.subject
            )

    async def fetch(
        self, statement: ReadStatement, parameters: Mapping[str, Any] | None = None
    ) -> Sequence[Sequence[Any]]:
        """The rows (positional) of one read-only statement on a plugin's own tables, with no
        transaction around it: the fast path for point reads and pages (plugin API 1.2). Build
        the statement once (`bindparam` for what varies) and pass the values as `parameters`; its
        values must need no conversion by SQLAlchemy (text, numbers, booleans, bytes)."""
        return await self.database.fetch(statement, parameters)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A connection for a plugin's reads of its own tables (the core's read engine)."""
        async with self.database.read() as connection:
            yield connection
