"""The autoregister plugin's hooks: Titan finds this module through the entry point
`titan: autoregister`.

With `registry_url` or `discovery_url` set, `titan_setup_app` builds one `once` sink; a cleanup
context starts its full sync when the app starts and closes its connections when it stops. It talks
to the registry and the discovery over HTTP only (a plugin never imports another plugin), so the
target may be another Titan, this instance itself, or any Part 2 implementation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from titan_core.plugin_api import REPOSITORY, EventSink, HealthReport, Repository, Settings, hookimpl
from titan_plugin_autoregister.config import AutoregisterConfig
from titan_plugin_autoregister.sink import AutoregisterSink

# The plugin API versions this plugin is written for (docs/plugins.md, "Compatibility").
TITAN_PLUGIN_API = ">=1.1,<2"

# The sink of this app (None: not configured). Per app, never a module global.
SINK: web.AppKey[AutoregisterSink | None] = web.AppKey("titan_plugin_autoregister.sink")


@hookimpl
def titan_setup_app(app: web.Application, settings: Settings) -> None:
    # A bad setting raises SettingsError here: Titan names the plugin and the setting.
    config = AutoregisterConfig.from_settings(settings)
    if not config.enabled:
        app[SINK] = None
        return

    def repository() -> Repository:
        return app[REPOSITORY]

    app[SINK] = AutoregisterSink(config, config.base_url(settings.public_base_url), repository)
    app.cleanup_ctx.append(_sync_then_close)


async def _sync_then_close(app: web.Application) -> AsyncIterator[None]:
    sink = app[SINK]
    assert sink is not None  # only appended with a sink
    sink.start_full_sync()
    yield
    # Titan's sink runner stopped before this runs: no deliver() is under way.
    await sink.close()


@hookimpl
def titan_event_sinks(app: web.Application, settings: Settings) -> list[EventSink]:
    # Not configured (None) or setup did not run: nothing to deliver to.
    return [sink] if (sink := app.get(SINK)) else []


@hookimpl
def titan_health(app: web.Application) -> HealthReport | None:
    # Cheap: counters the sink keeps, no I/O (/ready is polled often).
    if (sink := app.get(SINK)) is not None:
        return HealthReport("autoregister", sink.healthy, "automatic registration " + sink.describe())
    if SINK in app:
        return HealthReport("autoregister", True, "off: set registry_url or discovery_url ([autoregister])")
    return None  # setup did not run for this app
