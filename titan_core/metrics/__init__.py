"""Prometheus monitoring: `GET /metrics` from one `CollectorRegistry` per app (several apps share a
test process), HTTP request counting, the core's live-state collector and the plugins' collectors
(hook `titan_metrics`). docs/operations.md lists every metric.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from titan_core.keys import METRICS_REGISTRY
from titan_core.metrics.core_collector import CoreCollector
from titan_core.metrics.http_metrics import HttpMetrics, metrics_middleware
from titan_core.metrics.live_state import read_delivery_state

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
_CORE: web.AppKey[CoreCollector] = web.AppKey("titan.metrics_core_collector")


def install_metrics(app: web.Application) -> list[Middleware]:
    """Create the app's registry with the core's collectors, add `GET /metrics`, and return the
    request-counting middleware (to be the outermost one)."""
    registry = CollectorRegistry()
    app[METRICS_REGISTRY] = registry
    core = CoreCollector(app)
    registry.register(core)
    app[_CORE] = core
    app.router.add_get(METRICS_PATH, serve_metrics, allow_head=False)
    http = HttpMetrics()
    registry.register(http)
    return [metrics_middleware(http)]


def register_plugin_collectors(app: web.Application, collectors: list[tuple[str, Collector]]) -> None:
    """Register what the plugins returned from `titan_metrics`, each guarded by its plugin's name."""
    registry = app.get(METRICS_REGISTRY)
    if registry is None:
        return
    for plugin_name, collector in collectors:
        registry.register(PluginCollector(plugin_name, collector))


class PluginCollector(Collector):
    """A plugin's collector; one that raises is left out of that scrape (and logged), not the rest."""

    def __init__(self, plugin_name: str, collector: Collector) -> None:
        self.plugin_name = plugin_name
        self._collector = collector
        self._failing = False

    def collect(self) -> Iterator[Metric]:
        try:
            families = list(self._collector.collect())
        except Exception:
            if not self._failing:
                log.warning("a metrics collector of plugin %r raised; its metrics are left out",
                            self.plugin_name, exc_info=True)  # fmt: skip
            self._failing = True
            return iter(())
        self._failing = False
        return iter(families)


async def serve_metrics(request: web.Request) -> web.Response:
    """`GET /metrics`: the Prometheus text format (OpenMetrics when the scraper's `Accept` asks for
    it). Reads the database-held state first (bounded by a timeout, so a scrape answers while the
    database is away), then renders every collector."""
    app = request.app
    app[_CORE].delivery = await read_delivery_state(app)
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return web.Response(body=encode(app[METRICS_REGISTRY]), headers={"Content-Type": content_type})
