"""Open-loop HTTP load: requests leave on a fixed schedule whatever the server does, and each latency is
measured from the request's SCHEDULED send time, so a stalled server cannot hide its stall (no
coordinated omission). Reports p50/p90/p99/p99.9/max, the achieved rate and the generator's own CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import resource
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import aiohttp

# A request still unanswered after this long counts as an error, and its latency as this long.
REQUEST_TIMEOUT_S = 10.0


@dataclasses.dataclass
class OpenLoopResult:
    """One open-loop run. Latencies are in milliseconds from the scheduled send time."""

    offered_rate: float
    duration_s: float
    connections: int
    scheduled: int
    completed_ok: int
    errors: int
    achieved_rate: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    max_send_lag_ms: float
    generator_cpu_percent_of_one_core: float
    error_samples: list[str]

    def summary_line(self) -> str:
        return (
            f"offered {self.offered_rate:.0f}/s achieved {self.achieved_rate:.0f}/s "
            f"ok {self.completed_ok} errors {self.errors} | p50 {self.p50_ms:.2f} p90 {self.p90_ms:.2f} "
            f"p99 {self.p99_ms:.2f} p99.9 {self.p999_ms:.2f} max {self.max_ms:.2f} ms | "
            f"send lag max {self.max_send_lag_ms:.1f} ms | generator CPU "
            f"{self.generator_cpu_percent_of_one_core:.0f}% of a core"
        )


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, int(fraction * len(sorted_values) + 0.999999) - 1))
    return sorted_values[rank]


async def schedule_open_loop(
    rate: float, total: int, write: Callable[[int], Coroutine[Any, Any, None]]
) -> None:
    """Starts `write(0)`, `write(1)`, ... one every 1/rate s whatever the last one did, then awaits them all."""
    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter()
    for value in range(total):
        delay = start + value / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(write(value)))
    await asyncio.gather(*tasks)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_open_loop(
    urls: Sequence[str],
    *,
    rate: float,
    duration_s: float,
    connections: int = 64,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    seed: int = 1,
) -> OpenLoopResult:
    """Send `rate` requests per second for `duration_s` seconds, each to a URL drawn from `urls`.

    Request i is due at start + i/rate. Requests due while the generator was busy leave at once
    (their lateness is part of their latency). At most `connections` are in flight; the rest wait
    for a connection, and that wait counts too.
    """
    picker = random.Random(seed)
    latencies_ms: list[float] = []
    error_samples: list[str] = []
    errors = 0
    max_send_lag = 0.0
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers) as session:

        async def fire(url: str, due: float) -> None:
            nonlocal errors
            try:
                async with session.request(method, url, data=body) as response:
                    await response.read()
                    ok = response.status < 400
                    problem = f"HTTP {response.status} {url}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                ok, problem = False, f"{type(exc).__name__}: {exc} {url}"
            latencies_ms.append((time.perf_counter() - due) * 1000.0)
            if not ok:
                errors += 1
                if len(error_samples) < 5:
                    error_samples.append(problem)

        total = int(rate * duration_s)
        interval = 1.0 / rate
        in_flight: set[asyncio.Task[None]] = set()
        cpu_before = _cpu_seconds()
        start = time.perf_counter()
        for index in range(total):
            due = start + index * interval
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            else:
                max_send_lag = max(max_send_lag, -wait)
            task = asyncio.create_task(fire(urls[picker.randrange(len(urls))], due))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.gather(*in_flight)
        elapsed = time.perf_counter() - start
        cpu_used = _cpu_seconds() - cpu_before

    latencies_ms.sort()
    return OpenLoopResult(
        offered_rate=rate,
        duration_s=elapsed,
        connections=connections,
        scheduled=total,
        completed_ok=total - errors,
        errors=errors,
        achieved_rate=(total - errors) / elapsed if elapsed > 0 else 0.0,
        p50_ms=percentile(latencies_ms, 0.50),
        p90_ms=percentile(latencies_ms, 0.90),
        p99_ms=percentile(latencies_ms, 0.99),
        p999_ms=percentile(latencies_ms, 0.999),
        max_ms=latencies_ms[-1] if latencies_ms else 0.0,
        max_send_lag_ms=max_send_lag * 1000.0,
        generator_cpu_percent_of_one_core=100.0 * cpu_used / elapsed if elapsed > 0 else 0.0,
        error_samples=error_samples,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("urls", nargs="+", help="target URLs; each request picks one at random")
    parser.add_argument("--rate", type=float, default=2000.0, help="requests per second (default 2000)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds (default 10)")
    parser.add_argument("--connections", type=int, default=64, help="connection pool size (default 64)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds at the same rate, not reported")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", help="request body (sent as application/json)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    body = args.body.encode() if args.body is not None else None
    headers = {"Content-Type": "application/json"} if body is not None else None

    async def run_for(duration_s: float) -> OpenLoopResult:
        return await run_open_loop(
            args.urls,
            rate=args.rate,
            duration_s=duration_s,
            connections=args.connections,
            method=args.method,
            body=body,
            headers=headers,
        )

    async def warm_then_measure() -> OpenLoopResult:
        if args.warmup > 0:
            await run_for(args.warmup)
        return await run_for(args.duration)

    result = asyncio.run(warm_then_measure())
    print(json.dumps(dataclasses.asdict(result), indent=2) if args.json else result.summary_line())
    return 0 if result.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
