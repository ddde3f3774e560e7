"""The MQTT plugin's Prometheus metrics, read from its connections and counters when scraped:
whether each broker connection is up, messages awaiting the broker's acknowledgement, and what was
published and written back. Returned from the `titan_metrics` hook."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from titan_plugin_mqtt.plugin import MqttPlugin


class MqttMetrics(Collector):
    def __init__(self, plugin: MqttPlugin) -> None:
        self._plugin = plugin

    def collect(self) -> Iterator[Metric]:
        plugin = self._plugin
        links = {"events": plugin.publisher, "writeback": plugin.connection}
        connected = GaugeMetricFamily(
            "titan_mqtt_connected",
            "1 while the broker connection is up: `events` publishes, `writeback` takes device writes.",
            labels=["link"],
        )
        connects = CounterMetricFamily(
            "titan_mqtt_connects", "Times each broker connection came up.", labels=["link"]
        )
        for name, link in links.items():
            connected.add_metric([name], 1.0 if link.connected else 0.0)
            connects.add_metric([name], link.connects)
        yield connected
        yield connects
        yield GaugeMetricFamily(
            "titan_mqtt_in_flight_messages",
            "Event messages sent and not yet acknowledged by the broker (QoS 1 and 2).",
            value=plugin.publisher.in_flight,
        )
        stats = plugin.stats
        yield CounterMetricFamily(
            "titan_mqtt_events_published", "Events published.", value=stats.events_published
        )
        yield CounterMetricFamily(
            "titan_mqtt_events_republished",
            "Events published again after a reconnect (the broker may have lost them).",
            value=stats.events_republished,
        )
        yield CounterMetricFamily(
            "titan_mqtt_messages_refused", "Messages the broker refused (MQTT 5 reason codes).",
            value=stats.messages_refused,
        )  # fmt: skip
        yield CounterMetricFamily(
            "titan_mqtt_writes_applied", "Device value writes applied.", value=stats.writes_applied
        )
        refused = CounterMetricFamily(
            "titan_mqtt_writes_refused", "Device value writes refused, by error code.", labels=["code"]
        )
        for code, count in sorted(stats.writes_refused.items()):
            refused.add_metric([code], count)
        yield refused
