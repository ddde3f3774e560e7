"""Counting HTTP requests for `/metrics`: by method, route template and status, with latencies.

The route label is the matched resource's template (`/submodels/{submodelIdentifier}`), never the
raw path: identifiers would make one time series per twin. The per-request cost is one dict lookup
for the label set's children, one counter increment and one histogram observation.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CollectorRegistry, Counter, Histogram

# A request that matched no route (404, 405 without a resource) or an unknown method: bounded labels.
UNMATCHED_ROUTE = "unmatched"
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# From a millisecond (a cached read) to ten seconds (a long-poll of `/events` ends at `wait`).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HttpMetrics:
    """The HTTP request counter and latency histogram of one app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "titan_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ("method", "route", "status"),
            registry=registry,
        )
        self.latency = Histogram(
            "titan_http_request_duration_seconds",
            "Time from a request's arrival to its response, by method and route template "
            "(WebSocket upgrades are not timed: they last as long as the connection).",
            ("method", "route"),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        # prometheus_client's `labels()` takes a lock and builds a key per call; these caches make
        # the hot path a plain dict lookup (label sets are bounded: methods × routes × statuses).
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._histograms: dict[tuple[str, str], Any] = {}

    def observe(self, method: str, route: str, status: int, seconds: float | None) -> None:
        key = (method, route, status)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.requests.labels(method, route, str(status))
        counter.inc()
        if seconds is None:
            return
        histogram = self._histograms.get((method, route))
        if histogram is None:
            histogram = self._histograms[(method, route)] = self.latency.labels(method, route)
        histogram.observe(seconds)


def route_template(request: web.Request) -> str:
    """The template of the route that matched (`/shells/{aasIdentifier}`), or `unmatched`."""
    route = request.match_info.route
    resource = route.resource if route is not None else None
    return resource.canonical if resource is not None else UNMATCHED_ROUTE


def metrics_middleware(metrics: HttpMetrics) -> Middleware:
    """The outermost middleware: every answer counts, the ones other middlewares give included."""

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
            metrics.observe(method, route_template(request), status, elapsed)

    return count_requests
