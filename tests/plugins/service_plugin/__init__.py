"""A tiny service plugin for the tests of the service hooks, written only against the plugin API:
its own table (two migrations on its own branch), its own entity kind, a service that can be
switched off, and a write hook that indexes every created shell in the core's write transaction.

`ServicePlugin(refuse=...)` refuses (raises in the write hook) a shell of that id, so a test can
see the whole write roll back.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from aiohttp import web

from titan_core.plugin_api import (
    REPOSITORY,
    ROLE_ADMIN,
    Change,
    Conflict,
    EntityKind,
    MigrationSource,
    Service,
    Settings,
    hookimpl,
    json_body,
    json_response,
    paged,
    paging,
    principal_of,
    requires_role,
    serves,
)

BRANCH = "svcplug"
MIGRATIONS = Path(__file__).with_name("migrations")
BROKEN_MIGRATIONS = Path(__file__).with_name("broken_migrations")
KIND = EntityKind("svc_descriptor", "/svc-descriptors/")
SERVICE = "svc"
PROFILE = "https://example.com/titan-tests/SvcServiceSpecification/SSP-001"

metadata = sa.MetaData()
# Created by migrations/svcplug_0001.py; `note` by svcplug_0002.py.
shell_index = sa.Table(
    "svcplug_shell_index",
    metadata,
    sa.Column("shell_id", sa.Text, primary_key=True),
    sa.Column("origin", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=True),
)


class ServicePlugin:
    def __init__(self, *, refuse: str | None = None, versions: Path = MIGRATIONS) -> None:
        self.refuse = refuse
        self.versions = versions
        self.calls: list[tuple[str, list[str], str | None]] = []  # (origin, entities, subject)

    @hookimpl
    def titan_migrations(self) -> list[MigrationSource]:
        return [MigrationSource(BRANCH, self.versions)]

    @hookimpl
    def titan_entity_kinds(self) -> list[EntityKind]:
        return [KIND]

    @hookimpl
    def titan_services(self) -> list[Service]:
        return [Service(SERVICE, [PROFILE])]

    @hookimpl
    def titan_setup_app(self, app: web.Application, settings: Settings) -> None:
        if serves(settings, SERVICE):
            app.router.add_get("/svc-descriptors", list_descriptors)
            app.router.add_put("/svc-descriptors/{id}", put_note)
            app.router.add_post("/svc-admin/reindex", reindex)

    @hookimpl
    def titan_write_transaction(
        self, connection: sa.Connection, changes: Sequence[Change], origin: str, subject: str | None
    ) -> list[Change]:
        self.calls.append((origin, [change.entity for change in changes], subject))
        added: list[Change] = []
        for change in changes:
            if change.entity != "shell" or change.type != "created":
                continue
            if change.identifier == self.refuse:
                raise Conflict(f"the svc plugin refuses the shell {change.identifier!r}")
            connection.execute(sa.insert(shell_index).values(shell_id=change.identifier, origin=origin))
            added.append(Change("created", KIND.name, change.identifier, data={"id": change.identifier}))
        return added


async def list_descriptors(request: web.Request) -> web.Response:
    limit, _cursor = paging(request)
    async with request.app[REPOSITORY].reading() as connection:
        rows = (await connection.execute(sa.select(shell_index).order_by(shell_index.c.shell_id))).all()
    return paged([{"id": row.shell_id, "origin": row.origin, "note": row.note} for row in rows[:limit]], None)


async def put_note(request: web.Request) -> web.Response:
    """The plugin's own write: its row and its event in one transaction (`Repository.transaction`)."""
    body = await json_body(request)
    identifier = request.match_info["id"]
    repository = request.app[REPOSITORY]
    async with repository.transaction(principal_of(request), origin="plugin:svcplug") as transaction:
        await transaction.connection.execute(
            sa.update(shell_index).where(shell_index.c.shell_id == identifier).values(note=body["note"])
        )
        transaction.record(
            Change("updated", KIND.name, identifier, data={"id": identifier, "note": body["note"]})
        )
        if body.get("fail"):
            raise Conflict("asked to fail after recording")
    return json_response({"id": identifier, "note": body["note"]})


@requires_role(ROLE_ADMIN)
async def reindex(request: web.Request) -> web.Response:
    """A route that needs the admin role whatever its method (the core's access control checks it)."""
    return json_response({"reindexed": True, "by": principal_of(request).subject})
