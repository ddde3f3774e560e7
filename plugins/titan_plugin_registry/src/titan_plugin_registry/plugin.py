"""The registry plugin's hooks: Titan finds this module through the entry point `titan: registry`.

Two services, each switchable with the setting `services`: `aas-registry` (the AAS Registry,
`/shell-descriptors`) and `submodel-registry` (the Submodel Registry, `/submodel-descriptors`).
Their tables come with the plugin's own Alembic branch, their changes are events of the kinds
`shell_descriptor` and `submodel_descriptor`.

Registering this instance's own shells and submodels in a registry is not this plugin's job: the
plugin titan-aas-autoregister does it over HTTP, into this registry or any other Part 2 one.
"""

from __future__ import annotations

from aiohttp import web

from titan_core.plugin_api import EntityKind, MigrationSource, Service, Settings, hookimpl, serves
from titan_plugin_registry.http import add_aas_registry_routes, add_submodel_registry_routes
from titan_plugin_registry.migrations import BRANCH, VERSIONS

# The plugin API versions this plugin is written for (docs/plugins.md, "Compatibility").
TITAN_PLUGIN_API = ">=1.2,<2"

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
