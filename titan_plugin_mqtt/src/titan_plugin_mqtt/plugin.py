"""The MQTT plugin's hooks: Titan finds this module through the entry point `titan: mqtt`.

`titan_setup_app` reads the `[mqtt]` settings and builds the two broker connections (the event
publisher and the write-back connection), the sink and the write-back handler (or says loudly that
no broker is configured); a cleanup context runs the connections while the app runs;
`titan_event_sinks` hands Titan the `once` sink; `titan_metrics` its Prometheus collector;
`titan_health` tells `/ready` whether both connections are up, and what was published and written.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from titan_core.plugin_api import (
    REPOSITORY,
    AsyncAasOptions,
    EventSink,
    HealthReport,
    Repository,
    Settings,
    hookimpl,
    stored_elements,
    worker_index,
)
from titan_plugin_mqtt.config import MqttConfig
from titan_plugin_mqtt.connection import MqttConnection
from titan_plugin_mqtt.link import LinkState
from titan_plugin_mqtt.metrics import MqttMetrics
from titan_plugin_mqtt.publisher import EventPublisher
from titan_plugin_mqtt.sink import MqttSink, MqttStats
from titan_plugin_mqtt.writeback import WriteBack

# The plugin API versions this plugin is written for (docs/plugins.md, "Compatibility").
TITAN_PLUGIN_API = ">=1.0,<2"

log = logging.getLogger(__name__)

NOT_CONFIGURED = (
    "no MQTT broker configured (set TITAN_MQTT_URL, e.g. mqtt://127.0.0.1:1883); "
    "MQTT publishing and value write-back are off"
)


@dataclass
class MqttPlugin:
    """Everything the plugin runs for one app."""

    config: MqttConfig
    connection: MqttConnection  # write-back: subscription, device writes, their replies
    publisher: EventPublisher  # every event
    sink: MqttSink
    writeback: WriteBack
    stats: MqttStats


# State lives on the app (one process may build several apps, tests do); None: not configured.
PLUGIN: web.AppKey[MqttPlugin | None] = web.AppKey("titan_plugin_mqtt.plugin")


@hookimpl
def titan_setup_app(app: web.Application, settings: Settings) -> None:
    # A bad setting raises SettingsError here: Titan names the plugin and the reason and starts
    # without it (or refuses to start, with require_plugins).
    config = per_worker(MqttConfig.from_settings(settings))
    if not config.enabled:
        log.warning("%s; docs/mqtt.md shows how to start Mosquitto", NOT_CONFIGURED)
        app[PLUGIN] = None
        return
    stats = MqttStats()

    def repository() -> Repository:
        return app[REPOSITORY]

    writeback = WriteBack(config, stats, repository=repository, max_path_depth=settings.max_path_depth)
    connection = MqttConnection(config, subscriptions=config.value_subscriptions, on_message=writeback.handle)
    writeback.connection = connection
    # A publish must fail (and be retried by the sink runner) before the runner's own timeout cuts
    # deliver() off, which would hide the reason.
    publish_timeout = max(1.0, settings.sink_timeout_ms / 1000 - config.connect_wait - 0.5)
    publisher = EventPublisher(config)
    async_aas = AsyncAasOptions.from_settings(settings) if "async-aas" in config.profiles else None

    sink = MqttSink(
        config,
        publisher,
        stats,
        publish_timeout=publish_timeout,
        async_aas=async_aas,
        elements=lambda: stored_elements(app),
    )
    app[PLUGIN] = MqttPlugin(config, connection, publisher, sink, writeback, stats)
    app.cleanup_ctx.append(_run_connection)
    log.info(
        "MQTT: publishing events (profiles %s) under %s/… to %s at QoS %d%s; write-back %s",
        ", ".join(config.profiles), config.prefix, connection.address.display, config.qos,
        ", element events retained" if config.retain_elements else "",
        f"on {', '.join(config.value_subscriptions)}" if config.writeback
        else "switched off (writes are answered with an error)",
    )  # fmt: skip


@hookimpl
def titan_event_sinks(app: web.Application, settings: Settings) -> list[EventSink]:
    plugin = app.get(PLUGIN)
    return [] if plugin is None else [plugin.sink]


@hookimpl
def titan_metrics(app: web.Application) -> list[MqttMetrics]:
    plugin = app.get(PLUGIN)
    return [] if plugin is None else [MqttMetrics(plugin)]


@hookimpl
def titan_health(app: web.Application) -> HealthReport | None:
    if PLUGIN not in app:  # setup did not run for this app
        return None
    plugin = app[PLUGIN]
    if plugin is None:
        return HealthReport("mqtt", True, NOT_CONFIGURED)
    connection = plugin.connection
    # A refused write-back subscription is trouble only where write-back is meant to work.
    writeback_broken = bool(connection.subscription_refused) and plugin.config.writeback
    healthy = connection.connected and plugin.publisher.connected and not writeback_broken
    return HealthReport("mqtt", healthy, describe(plugin))


def describe(plugin: MqttPlugin) -> str:
    """One paragraph for /ready: the connection, what was published, what devices wrote."""
    connection, stats, config = plugin.connection, plugin.stats, plugin.config
    now = time.time()
    down = [link for link in (plugin.publisher, connection) if not link.connected]
    if not down:
        since = max(plugin.publisher.connected_since or now, connection.connected_since or now)
        state = (
            f"connected to {connection.address.display} ({connection.protocol_label}, client ids "
            f"{plugin.publisher.client_id} for events, {connection.client_id} for write-back) "
            f"for {now - since:.0f} s"
        )
    else:
        state = "; ".join(_down(link, now) for link in down)
    published = f"{stats.events_published} events published"
    if stats.retained_cleared:
        published += f", {stats.retained_cleared} retained messages cleared"
    if stats.messages_refused:
        published += f", {stats.messages_refused} messages REFUSED by the broker"
    if stats.events_republished:
        published += f", {stats.events_republished} published again after reconnects"
    if stats.last_published_at is not None:
        published += f", last {now - stats.last_published_at:.0f} s ago"
    refused = sum(stats.writes_refused.values())
    writes = f"write-back: {stats.writes_applied} applied, {refused} refused"
    if refused:
        writes += (
            " (" + ", ".join(f"{code} {count}" for code, count in stats.writes_refused.most_common()) + ")"
        )
    if stats.writes_ignored:
        writes += f", {stats.writes_ignored} retained or empty ignored"
    if not config.writeback:
        writes = "write-back switched off"
    if connection.subscription_refused:
        writes += f"; the broker REFUSED the write-back subscription ({connection.subscription_refused})"
    return f"{state}; {published}; {writes}"


def _down(link: LinkState, now: float) -> str:
    what = "events" if isinstance(link, EventPublisher) else "write-back"
    return (
        f"NOT connected to {link.address.display} for {now - link.disconnected_since:.0f} s ({what}: "
        f"{link.last_error}); reconnecting with backoff, events wait on the bus"
    )


async def _run_connection(app: web.Application) -> AsyncIterator[None]:
    plugin = app[PLUGIN]
    assert plugin is not None
    plugin.publisher.start()
    plugin.connection.start()
    try:
        yield
    finally:
        await plugin.writeback.drain(timeout=2.0)
        await plugin.sink.close()
        await plugin.publisher.stop()
        await plugin.connection.stop()


def per_worker(config: MqttConfig) -> MqttConfig:
    """A fixed client id (needed for a persistent session) as this worker's own: `<client_id>-w<I>`
    in worker I of `titan serve --workers N`. The broker drops the older connection of a client id
    when a newer one connects, so workers sharing one would take turns kicking each other off; the
    suffix stays the same across restarts of that worker, so its session survives. Unchanged in a
    plain `titan serve`, and without a fixed id (each process makes a unique one)."""
    index = worker_index()
    if index is None or not config.client_id:
        return config
    return dataclasses.replace(config, client_id=f"{config.client_id}-w{index}")
