"""What the security tests store and compare: the twins of `twins.py` written through the Repository,
and a snapshot of every row a write could change (to show a refused request changed nothing)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from aiohttp import web

from tests.support.app import AppClient, AppClientFactory
from titan_core.auth import ANONYMOUS
from titan_core.keys import DATABASE, REPOSITORY
from titan_core.model.paths import parse_id_short_path
from titan_core.plugins import TitanPluginManager
from titan_core.settings import Settings
from titan_core.store.records import Attachment

from .routes import PACKAGE_ID, package_bytes
from .twins import CD_ID, OTHER_SHELL_ID, OTHER_SM_ID, SHELL_ID, SM_ID, concept_description, shell, submodel

Snapshot = dict[str, list[tuple[Any, ...]]]


async def started_with_twins(
    make_app_client: AppClientFactory, settings: Settings, plugin_manager: TitanPluginManager
) -> AppClient:
    """A started app with `settings`, holding the twins."""
    client = await make_app_client(settings, plugin_manager=plugin_manager)
    await load_twins(client.server.app)
    return client


async def load_twins(app: web.Application) -> None:
    """The twins of `twins.py`, written through the Repository (no HTTP, no credentials needed)."""
    repository = app[REPOSITORY]
    for submodel_id in (SM_ID, OTHER_SM_ID):
        await repository.create("submodel", submodel(submodel_id), origin="load", principal=ANONYMOUS)
    for shell_id, submodel_id in ((SHELL_ID, SM_ID), (OTHER_SHELL_ID, OTHER_SM_ID)):
        await repository.create("shell", shell(shell_id, submodel_id), origin="load", principal=ANONYMOUS)
        await repository.put_thumbnail(
            shell_id,
            Attachment("image/png", "thumbnail.png", b"\x89PNG-thumbnail"),
            origin="load",
            principal=ANONYMOUS,
        )
        await repository.put_attachment(
            submodel_id,
            parse_id_short_path("Manual"),
            Attachment("text/plain", "manual.txt", b"the manual"),
            origin="load",
            principal=ANONYMOUS,
        )
    await repository.create(
        "concept_description", concept_description(CD_ID), origin="load", principal=ANONYMOUS
    )
    # A package holding SHELL_ID as stored now, so keeping it changes no twin.
    held = {
        "assetAdministrationShells": [
            (await repository.get("shell", SHELL_ID, principal=ANONYMOUS)).document()
        ]
    }
    await repository.save_package(
        PACKAGE_ID,
        file_name="line1.aasx",
        data=package_bytes(held),
        environment=held,
        files=[],
        origin="load",
        principal=ANONYMOUS,
    )


async def snapshot(app: web.Application) -> Snapshot:
    """Every stored row that a write could change: identifiables, attachments, the event outbox."""
    async with app[DATABASE].read() as connection:
        result: Snapshot = {}
        for table, columns in _SNAPSHOT_COLUMNS.items():
            rows = await connection.execute(sa.text(f"SELECT {columns} FROM {table} ORDER BY 1, 2"))
            result[table] = [tuple(row) for row in rows]
        return result


# The relay fills in `event_outbox.seq` when it publishes: not a change a request made.
_SNAPSHOT_COLUMNS = {
    "identifiables": "*",
    "attachments": "*",
    "shell_asset_ids": "*",
    "event_outbox": "id, event_id, envelope",
}
