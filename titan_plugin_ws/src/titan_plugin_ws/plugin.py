"""The WebSocket plugin's hooks: Titan finds this module through the entry point `titan: ws`.

`titan_setup_app` reads the `[ws]` settings, adds `/ws/events` (and the console page) and the
shutdown hook; `titan_event_sinks` hands Titan the fan-out sink; `titan_metrics` its Prometheus
collector; `titan_health` reports the connections. Only the public core API is used.
"""

from __future__ import annotations

import logging

from aiohttp import web

from titan_core.plugin_api import BadRequest, EventSink, HealthReport, Settings, hookimpl, public
from titan_plugin_ws.config import WsConfig
from titan_plugin_ws.console import add_console_routes
from titan_plugin_ws.hub import WsHub
from titan_plugin_ws.metrics import WsMetrics

# The plugin API versions this plugin is written for (docs/plugins.md, "Compatibility").
TITAN_PLUGIN_API = ">=1.0,<2"

log = logging.getLogger(__name__)

EVENTS_PATH = "/ws/events"

# The plugin keeps its state on the app, never in module globals: one process may build several apps.
HUB: web.AppKey[WsHub] = web.AppKey("titan_plugin_ws.hub")


@hookimpl
def titan_setup_app(app: web.Application, settings: Settings) -> None:
    # A bad setting raises SettingsError here; Titan names this plugin and starts without it.
    config = WsConfig.from_settings(settings)
    hub = WsHub(app, config)
    app[HUB] = hub

    # Public for the access-control middleware: browsers cannot send headers on a WebSocket, so
    # the handler authenticates in-band (`?token=`, `auth` message) and answers with close codes.
    @public
    async def events(request: web.Request) -> web.StreamResponse:
        if not web.WebSocketResponse().can_prepare(request).ok:
            raise BadRequest(
                f"{EVENTS_PATH} is a WebSocket endpoint: connect with a WebSocket client "
                '(new WebSocket("ws://host/ws/events") in a browser); the console is at /ws/console'
            )
        return await hub.handle(request)

    app.router.add_get(EVENTS_PATH, events, allow_head=False)
    if config.console:
        add_console_routes(app.router)
    # on_shutdown runs before aiohttp waits for open handlers, so clients get 1001 right away.
    app.on_shutdown.append(hub.shutdown)


@hookimpl
def titan_event_sinks(app: web.Application, settings: Settings) -> list[EventSink]:
    hub = app.get(HUB)
    return [] if hub is None else [hub]


@hookimpl
def titan_metrics(app: web.Application) -> list[WsMetrics]:
    hub = app.get(HUB)
    return [] if hub is None else [WsMetrics(hub)]


@hookimpl
def titan_health(app: web.Application) -> HealthReport | None:
    hub = app.get(HUB)
    if hub is None:  # setup did not run for this app
        return None
    return HealthReport("ws", True, hub.describe())
