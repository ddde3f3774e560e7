"""What `GET /metrics` costs a request: the request-counting middleware's own work (a route-template
lookup, a counter increment, a histogram observation), timed in-process without HTTP, so the
figure does not depend on the load generator or on a busy machine's noise. The end-to-end A/B
(bench/run_rest.py with TITAN_METRICS_ENABLED=true/false) is in docs/performance.md.

Usage: .venv/bin/python bench/metrics_overhead.py [--requests 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from titan_core.metrics.http_metrics import HttpMetrics, metrics_middleware

ROUTE = "/submodels/{submodelIdentifier}/submodel-elements/{idShortPath}/$value"


async def _ok(request: web.Request) -> web.Response:
    return _RESPONSE


_RESPONSE = web.Response(status=204)


async def _time_per_request(middleware: object | None, requests: int) -> float:
    app = web.Application()
    app.router.add_patch(ROUTE, _ok)
    request = make_mocked_request(
        "PATCH", "/submodels/aHR0cHM6Ly9leA/submodel-elements/Speed/$value", app=app
    )
    match = await app.router.resolve(request)
    request._match_info = match  # what aiohttp's request handler sets before the middlewares
    call = (lambda: middleware(request, _ok)) if middleware is not None else (lambda: _ok(request))  # type: ignore[operator]
    started = time.perf_counter()
    for _ in range(requests):
        await call()
    return (time.perf_counter() - started) / requests


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    middleware = metrics_middleware(HttpMetrics())
    with_metrics, without = [], []
    for _ in range(args.rounds):
        with_metrics.append(await _time_per_request(middleware, args.requests))
        without.append(await _time_per_request(None, args.requests))
    cost = [a - b for a, b in zip(with_metrics, without, strict=True)]
    print(f"handler alone:        {statistics.median(without) * 1e6:.2f} µs per request")
    print(f"with the middleware:  {statistics.median(with_metrics) * 1e6:.2f} µs per request")
    print(f"metrics cost:         {statistics.median(cost) * 1e6:.2f} µs per request "
          f"(min {min(cost) * 1e6:.2f}, max {max(cost) * 1e6:.2f}; {args.rounds} rounds)")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
