"""What `GET /metrics` costs a request: the request-counting middleware's own work (a route-template
lookup, a counter increment, a histogram observation), timed in-process without HTTP and in CPU
time (`time.process_time`), so the figure depends neither on the load generator nor, much, on
other processes competing for the machine. Compared with an empty pass-through middleware (what
any middleware costs in aiohttp) and with the handler called directly. The end-to-end A/B
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
from aiohttp.typedefs import Handler

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
    started = time.process_time()
    for _ in range(requests):
        await call()
    return (time.process_time() - started) / requests


@web.middleware
async def _pass_through(request: web.Request, handler: Handler) -> web.StreamResponse:
    return await handler(request)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    middleware = metrics_middleware(HttpMetrics())
    with_metrics, empty, without = [], [], []
    for _ in range(args.rounds):
        with_metrics.append(await _time_per_request(middleware, args.requests))
        empty.append(await _time_per_request(_pass_through, args.requests))
        without.append(await _time_per_request(None, args.requests))
    work = [a - b for a, b in zip(with_metrics, empty, strict=True)]
    total = [a - b for a, b in zip(with_metrics, without, strict=True)]
    print(f"handler alone:             {statistics.median(without) * 1e6:.2f} µs CPU per request")
    print(f"+ an empty middleware:     {statistics.median(empty) * 1e6:.2f}")
    print(f"+ the metrics middleware:  {statistics.median(with_metrics) * 1e6:.2f}")
    print(
        f"metrics, all in:           {statistics.median(total) * 1e6:.2f} µs per request "
        f"(min {min(total) * 1e6:.2f}, max {max(total) * 1e6:.2f}; {args.rounds} rounds)"
    )
    print(f"of which counting:         {statistics.median(work) * 1e6:.2f} µs per request")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
