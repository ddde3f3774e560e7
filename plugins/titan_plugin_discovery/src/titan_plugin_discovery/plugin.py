"""The discovery plugin's hooks: Titan finds this module through the entry point `titan: discovery`.

- `titan_migrations`: the table `discovery_asset_links`, on the plugin's own Alembic branch;
- `titan_write_transaction`: every shell write keeps the derived links in step, in its transaction;
- `titan_entity_kinds`: `asset_link`, so link changes are events like twin changes;
- `titan_services` and `titan_setup_app`: the Discovery service, its profiles in `/description`,
  its routes at the root and under the 3.0 prefix, when the deployment serves it; and, served or
  not, the start-up back-fill of the shells written while the plugin was not running (backfill.py);
- `titan_health`: how far that back-fill is, in the body of `/ready`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aiohttp import web
from sqlalchemy.engine import Connection

from titan_core.plugin_api import (
    Change,
    EntityKind,
    HealthReport,
    MigrationSource,
    Service,
    Settings,
    hookimpl,
    serves,
)
from titan_plugin_discovery.backfill import BACKFILL, BackfillProgress, backfill_context
from titan_plugin_discovery.changes import ENTITY_KIND
from titan_plugin_discovery.feed import follow_shell_changes
from titan_plugin_discovery.routes import add_routes

# The plugin API versions this plugin is written for (docs/plugins.md, "Compatibility").
# 1.2: `Repository.fetch` (the lookups) and `PluginTransaction.identifiables` (the back-fill).
TITAN_PLUGIN_API = ">=1.2,<2"

SERVICE = "discovery"
BRANCH = "titan_discovery"
PROFILES = tuple(
    f"https://admin-shell.io/aas/API/{version}/DiscoveryServiceSpecification/SSP-001"
    for version in ("3/0", "3/1")
)


@hookimpl
def titan_migrations() -> Sequence[MigrationSource]:
    return [MigrationSource(branch=BRANCH, versions=Path(__file__).with_name("migrations"))]


@hookimpl
def titan_entity_kinds() -> Sequence[EntityKind]:
    return [ENTITY_KIND]


@hookimpl
def titan_services() -> Sequence[Service]:
    return [Service(name=SERVICE, profiles=PROFILES)]


@hookimpl
def titan_setup_app(app: web.Application, settings: Settings) -> None:
    # Whether or not this instance serves lookups, its table follows the shells (as the hook does).
    app[BACKFILL] = BackfillProgress()
    app.cleanup_ctx.append(backfill_context)
    if not serves(settings, SERVICE):
        return
    add_routes(app.router, "")
    if settings.api_prefix:
        add_routes(app.router, settings.api_prefix)


@hookimpl
def titan_health(app: web.Application) -> HealthReport | None:
    progress = app.get(BACKFILL)
    if progress is None:  # setup did not run for this app
        return None
    return HealthReport(SERVICE, not progress.error, progress.describe())


@hookimpl
def titan_write_transaction(
    connection: Connection, changes: Sequence[Change], origin: str, subject: str | None
) -> Sequence[Change] | None:
    # Fed whatever the origin (REST, MQTT, `titan load`, another plugin): the links follow the
    # shells, not the way they were written. Its own asset_link changes are not shell changes.
    return follow_shell_changes(connection, changes) or None
