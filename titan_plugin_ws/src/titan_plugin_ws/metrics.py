"""The WebSocket plugin's Prometheus metrics, read from the hub when scraped (nothing is counted on
the fan-out path): open connections, subscriptions, frames queued for slow clients, and the hub's
counters. Returned from the `titan_metrics` hook."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from titan_plugin_ws.hub import WsHub


class WsMetrics(Collector):
    def __init__(self, hub: WsHub) -> None:
        self._hub = hub

    def collect(self) -> Iterator[Metric]:
        hub = self._hub
        connections = list(hub.connections)
        yield GaugeMetricFamily(
            "titan_ws_connections", "Open /ws/events connections.", value=len(connections)
        )
        yield GaugeMetricFamily(
            "titan_ws_subscriptions",
            "Subscriptions of the open connections.",
            value=sum(len(connection.subscriptions) for connection in connections),
        )
        yield GaugeMetricFamily(
            "titan_ws_queued_frames",
            "Frames waiting for slow clients to read them (a client whose queue overflows is closed 4429).",
            value=sum(connection.outbox.queued for connection in connections),
        )
        stats = hub.stats
        yield CounterMetricFamily(
            "titan_ws_accepted_connections", "WebSocket connections accepted.", value=stats.accepted
        )
        closed = CounterMetricFamily(
            "titan_ws_closed_connections", "Connections closed by the server, by reason.", labels=["reason"]
        )
        closed.add_metric(["too_slow"], stats.closed_slow)
        closed.add_metric(["too_many_messages"], stats.closed_rate)
        yield closed
        yield CounterMetricFamily(
            "titan_ws_delivered_events", "Events handed to the connections' subscriptions.",
            value=stats.delivered_events,
        )  # fmt: skip
