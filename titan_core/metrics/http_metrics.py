"""Counting HTTP requests for `/metrics`: by method, route template and status, with latencies.

The route label is the matched resource's template (`/submodels/{submodelIdentifier}`), never the
raw path: identifiers would make one time series per twin. Counting is plain integers in dicts on
the event loop (prometheus_client's metric objects take a lock per update, some ten times the
cost); a collector turns them into a counter and a histogram when Prometheus scrapes.
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_left
from collections.abc import Iterator

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

# A request that matched no route (404, 405 without a resource) or an unknown method: bounded labels.
UNMATCHED_ROUTE = "unmatched"
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# From a millisecond (a cached read) to ten seconds (a long-poll of `/events` ends at `wait`).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Latencies:
    """One route's histogram: a count per bucket (the last one is +Inf) and the sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.total = 0.0


class HttpMetrics(Collector):
    """The HTTP request counter and latency histogram of one app, counted on the event loop."""

    def __init__(self) -> None:
        self._requests: dict[tuple[str, str, int], int] = {}
        self._latencies: dict[tuple[str, str], _Latencies] = {}

    def observe(self, method: str, route: str, status: int, seconds: float | None) -> None:
        key = (method, route, status)
        requests = self._requests
        requests[key] = requests.get(key, 0) + 1
        if seconds is None:
            return
        latencies = self._latencies.get((method, route))
        if latencies is None:
            latencies = self._latencies[(method, route)] = _Latencies()
        latencies.counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        latencies.total += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "titan_http_requests",
            "HTTP requests answered, by method, route template and status.",
            labels=("method", "route", "status"),
        )
        for (method, route, status), count in sorted(self._requests.items()):
            requests.add_metric([method, route, str(status)], count)
        yield requests
        latency = HistogramMetricFamily(
            "titan_http_request_duration_seconds",
            "Time from a request's arrival to its response, by method and route template "
            "(WebSocket upgrades are not timed: they last as long as the connection).",
            labels=("method", "route"),
        )
        bounds = [repr(bound) for bound in LATENCY_BUCKETS] + ["+Inf"]
        for (method, route), latencies in sorted(self._latencies.items()):
            cumulative, running = [], 0
            for bound, count in zip(bounds, latencies.counts, strict=True):
                running += count
                cumulative.append((bound, running))
            latency.add_metric([method, route], cumulative, latencies.total)
        yield latency


def metrics_middleware(metrics: HttpMetrics) -> Middleware:
    """The outermost middleware: every answer counts, the ones other middlewares give included."""

    templates: dict[web.AbstractResource, str] = {}  # one lookup per request once a route was seen

    @web.middleware
    async def count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:  # redirects (308 for a trailing slash) and bare aiohttp errors
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = 499  # the client went away before the answer (nginx's code for it)
            raise
        finally:
            method = request.method if request.method in _KNOWN_METHODS else "other"
            elapsed = None if status == 101 else time.perf_counter() - started
            # Keyed by resource: an unmatched request gets a new route object each time.
            resource = request.match_info.route.resource
            if resource is None:
                template = UNMATCHED_ROUTE
            else:
                template = templates.get(resource) or templates.setdefault(resource, resource.canonical)
            metrics.observe(method, template, status, elapsed)

    return count_requests
