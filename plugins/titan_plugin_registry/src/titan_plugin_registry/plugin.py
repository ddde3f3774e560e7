"""The registry plugin's hooks: Titan finds this module through the entry point `titan: registry`.

Two services, each switchable with the setting `services`: `aas-registry` (the AAS Registry,
`/shell-descriptors`) and `submodel-registry` (the Submodel Registry, `/submodel-descriptors`).
Their tables come with the plugin's own Alembic branch, their changes are events of the kinds
`shell_descriptor` and `submodel_descriptor`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from titan_core.plugin_api import (
    REPOSITORY,
    EntityKind,
    EventSink,
    HealthReport,
    MigrationSource,
    Service,
    Settings,
    SettingsError,
    hookimpl,
    serves,
)
from titan_plugin_registry.config import SyncConfig
from titan_plugin_registry.http import add_aas_registry_routes, add_submodel_registry_routes
from titan_plugin_registry.migrations import BRANCH, VERSIONS
from titan_plugin_registry.sync import RegistrySyncSink
from titan_plugin_registry.targets import LocalTarget, RegistryTarget, RemoteTarget

# The plugin API versions this plugin is written for (docs/plugins.md, "Compatibility").
TITAN_PLUGIN_API = ">=1.1,<2"

AAS_REGISTRY = "aas-registry"
SUBMODEL_REGISTRY = "submodel-registry"
# The V3.0 and V3.1 paths and bodies of both services are the same: each is served under both.
_API_VERSIONS = ("3/0", "3/1")
PROFILES = {
    AAS_REGISTRY: tuple(
        f"https://admin-shell.io/aas/API/{version}/AssetAdministrationShellRegistryServiceSpecification/SSP-001"
        for version in _API_VERSIONS
    ),
    SUBMODEL_REGISTRY: tuple(
        f"https://admin-shell.io/aas/API/{version}/SubmodelRegistryServiceSpecification/SSP-001"
        for version in _API_VERSIONS
    ),
}


# Automatic registration, when configured (None: off). Per app, never in a module global.
SYNC: web.AppKey[RegistrySyncSink | None] = web.AppKey("titan_plugin_registry.sync")


@hookimpl
def titan_migrations() -> list[MigrationSource]:
    return [MigrationSource(BRANCH, VERSIONS)]


@hookimpl
def titan_entity_kinds() -> list[EntityKind]:
    return [
        EntityKind("shell_descriptor", "/shell-descriptors/"),
        EntityKind("submodel_descriptor", "/submodel-descriptors/"),
    ]


@hookimpl
def titan_services() -> list[Service]:
    return [Service(name, profiles) for name, profiles in PROFILES.items()]


@hookimpl
def titan_setup_app(app: web.Application, settings: Settings) -> None:
    # At the root and under the core's alias prefix (`/api/v3.0` by default), as the core's routes.
    prefixes = ("", settings.api_prefix) if settings.api_prefix else ("",)
    for prefix in prefixes:
        if serves(settings, AAS_REGISTRY):
            add_aas_registry_routes(app.router, prefix)
        if serves(settings, SUBMODEL_REGISTRY):
            add_submodel_registry_routes(app.router, prefix)
    app[SYNC] = _sync_sink(app, settings)
    if app[SYNC] is not None:
        app.cleanup_ctx.append(_full_sync_and_close)


def _sync_sink(app: web.Application, settings: Settings) -> RegistrySyncSink | None:
    config = SyncConfig.from_settings(settings)
    if not config.enabled:
        return None
    base_url = config.endpoint_base_url or settings.public_base_url
    if not base_url:
        raise SettingsError(
            "registry sync needs the URL clients reach this instance at, for the descriptors' endpoints: "
            "set endpoint_base_url (TITAN_REGISTRY_ENDPOINT_BASE_URL) or the core's public_base_url",
            setting="endpoint_base_url",
        )
    target: RegistryTarget = RemoteTarget(config) if config.remote else LocalTarget(app)
    return RegistrySyncSink(target, base_url, name_of_target=config.sync_to)


async def _full_sync_and_close(app: web.Application) -> AsyncIterator[None]:
    sink = app[SYNC]
    assert sink is not None
    task = asyncio.create_task(sink.keep_trying_full_sync(app[REPOSITORY]), name="registry full sync")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await sink.close()


@hookimpl
def titan_event_sinks(app: web.Application, settings: Settings) -> list[EventSink]:
    sink = app.get(SYNC)
    return [sink] if sink is not None else []


@hookimpl
def titan_health(app: web.Application) -> HealthReport | None:
    if SYNC not in app:
        return None  # setup did not run for this app
    sink = app[SYNC]
    if sink is None:
        return HealthReport("registry", True, "automatic registration off (TITAN_REGISTRY_SYNC_TO)")
    return HealthReport("registry", sink.healthy, "automatic registration " + sink.describe())
