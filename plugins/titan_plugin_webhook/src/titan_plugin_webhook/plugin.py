"""The webhook plugin's hooks: Titan finds this module through the entry point `titan: webhook`.

Each hook is small on purpose; together they show the life of a transport plugin:
`titan_setup_app` reads the settings and prepares per-app state, `titan_event_sinks` hands the
sinks to Titan, `titan_health` reports how delivery goes. Everything here uses only the declared
plugin API, `titan_core.plugin_api` (an import-linter contract in pyproject.toml holds it to that).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web

from titan_core.plugin_api import EventSink, HealthReport, Settings, hookimpl
from titan_plugin_webhook.config import WebhookConfig
from titan_plugin_webhook.sink import WebhookSink

# The plugin API versions this plugin is written for (docs/plugins.md, "Compatibility").
TITAN_PLUGIN_API = ">=1.0,<2"

log = logging.getLogger(__name__)

# The plugin keeps its state on the app under its own keys, never in module globals: one process
# may build several apps (tests do), each with its own settings and sinks.
SINKS: web.AppKey[list[WebhookSink]] = web.AppKey("titan_plugin_webhook.sinks")


@hookimpl
def titan_setup_app(app: web.Application, settings: Settings) -> None:
    # A bad setting raises SettingsError here; Titan names this plugin in the log and starts
    # without it (or refuses to start, with require_plugins).
    config = WebhookConfig.from_settings(settings)
    app[SINKS] = [WebhookSink(url, config) for url in config.urls]
    for sink in app[SINKS]:
        log.info("webhook sink %s delivers to %s", sink.name, sink.display_url)
    # Connections are closed in a cleanup context: it runs when the app stops, after Titan's sink
    # runner (registered later, so stopped earlier) has stopped calling deliver().
    app.cleanup_ctx.append(_close_sinks)


@hookimpl
def titan_event_sinks(app: web.Application, settings: Settings) -> list[EventSink]:
    sinks = app[SINKS]
    return list(sinks)


@hookimpl
def titan_health(app: web.Application) -> HealthReport | None:
    sinks = app.get(SINKS)
    if sinks is None:  # setup did not run for this app
        return None
    if not sinks:
        return HealthReport("webhook", True, "no URLs configured (TITAN_WEBHOOK_URLS); nothing to deliver")
    return HealthReport("webhook", all(sink.healthy for sink in sinks), "; ".join(map(_describe, sinks)))


def _describe(sink: WebhookSink) -> str:
    now = time.time()
    summary = f"{sink.display_url} ({sink.name}): {sink.delivered_count} delivered"
    if sink.dropped_count:
        summary += f", {sink.dropped_count} dropped"
    if sink.last_delivered_at is not None:
        summary += f", last {now - sink.last_delivered_at:.0f} s ago"
    if sink.last_problem_at is not None and not sink.healthy:
        summary += f"; failing: {sink.last_problem} ({now - sink.last_problem_at:.0f} s ago)"
    return summary


async def _close_sinks(app: web.Application) -> AsyncIterator[None]:
    yield
    for sink in app[SINKS]:
        await sink.close()
