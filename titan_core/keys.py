"""The typed application keys plugins may read: the one place app state is named."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from titan_core.settings import Settings
    from titan_core.store.database import Database
    from titan_core.store.repository import Repository

SETTINGS: web.AppKey[Settings] = web.AppKey("titan.settings")
DATABASE: web.AppKey[Database] = web.AppKey("titan.database")
REPOSITORY: web.AppKey[Repository] = web.AppKey("titan.repository")

# The plugin host (titan_core.plugins): the app's own plugin manager, the typed facade over its
# hooks, and the sinks the plugins returned from `titan_event_sinks` (read by the sink runner).
if TYPE_CHECKING:
    from titan_core.delivery.sink import EventSink
    from titan_core.plugins import TitanHooks, TitanPluginManager

if TYPE_CHECKING:
    from titan_core.services import EnabledServices
    from titan_core.store.migration_sources import MigrationSource

PLUGIN_MANAGER: web.AppKey[TitanPluginManager] = web.AppKey("titan.plugin_manager")
HOOKS: web.AppKey[TitanHooks] = web.AppKey("titan.hooks")
EVENT_SINKS: web.AppKey[list[EventSink]] = web.AppKey("titan.event_sinks")
# The services this app serves (the setting `services`), and the plugins' migration sources with
# their plugins' names (migrated with the core's when the app starts).
SERVICES: web.AppKey[EnabledServices] = web.AppKey("titan.services")
MIGRATION_SOURCES: web.AppKey[list[tuple[str, MigrationSource]]] = web.AppKey("titan.migration_sources")

# Eventing (titan_core.delivery): the bus (its `head()` is the newest titanseq this instance has seen)
# and the pipeline (relay, sink runner; `status()` for /ready). Both are set when the app starts.
if TYPE_CHECKING:
    from titan_core.delivery.bus import EventBus
    from titan_core.delivery.pipeline import EventPipeline

BUS: web.AppKey[EventBus] = web.AppKey("titan.bus")
EVENT_PIPELINE: web.AppKey[EventPipeline] = web.AppKey("titan.event_pipeline")

# Monitoring (titan_core.metrics): the app's own Prometheus registry, served at `GET /metrics`.
# Plugins hand their collectors over through the `titan_metrics` hook rather than registering here.
if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

METRICS_REGISTRY: web.AppKey[CollectorRegistry] = web.AppKey("titan.metrics_registry")
