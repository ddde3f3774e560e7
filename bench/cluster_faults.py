"""Cluster faults and latency: two `titan serve` instances on private PostgreSQL, Redis and Mosquitto.

faults:   each scenario (Redis outages of 0, 2, 5, 12 and 20 s, the MQTT holder killed with SIGKILL,
          the broker killed for 5 s, PostgreSQL stopped for 5 s) --repeat times on a fresh
          deployment: a writer at --rate per second alternating between the instances before, during
          and after the fault; then per channel (/events, a WebSocket client per instance, MQTT):
          acknowledged writes, lost, duplicated, out of order, and the recovery time (from the end of
          the fault until every channel had every acknowledged write).
latency:  --runs runs of --seconds at --rate writes/s alternating between the instances; commit
          (the envelope's `time`, set in the write's transaction) -> WebSocket and -> MQTT, p50/p99.
          --breakdown adds a table per run splitting each path at the Redis stream: commit -> on
          the bus (write, commit, wake-up, relay round, XADD; seen by the bench's own XREAD) and
          bus -> each channel (tail, sink, transport, client). Before each run the bench freezes
          what its garbage collector holds (the events its readers kept), so that its own pauses,
          which grew run after run, are not counted as Titan's latency.

The harness is tests/cluster/harness.py (the fault tests use the same). Figures: docs/performance.md.
Usage:
  .venv/bin/python bench/cluster_faults.py faults [--scenarios redis-0,holder-kill] [--repeat 3]
  .venv/bin/python bench/cluster_faults.py latency [--rate 200 --seconds 10 --runs 3] [--breakdown]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: tests is a package

from redis.asyncio import Redis

from tests.cluster.harness import Cluster, Observers, Verdict

Fault = Callable[[Cluster, Observers], Awaitable[None]]


def redis_outage(seconds: float) -> Fault:
    async def fault(cluster: Cluster, observers: Observers) -> None:
        await asyncio.to_thread(cluster.redis.kill)
        await asyncio.sleep(seconds)
        await asyncio.to_thread(cluster.redis.start)  # empty: no persistence

    return fault


async def holder_kill(cluster: Cluster, observers: Observers) -> None:
    holder = await cluster.holder_of("mqtt")
    await asyncio.to_thread(cluster.kill, holder)
    await asyncio.sleep(2)
    await asyncio.to_thread(cluster.restart, holder)


async def broker_kill(cluster: Cluster, observers: Observers) -> None:
    await asyncio.to_thread(cluster.mosquitto.kill)
    await asyncio.sleep(5)
    await asyncio.to_thread(cluster.mosquitto.start)


async def postgres_stop(cluster: Cluster, observers: Observers) -> None:
    await asyncio.to_thread(cluster.postgres.stop, "fast")
    await asyncio.sleep(5)
    await asyncio.to_thread(cluster.postgres.start)


SCENARIOS: dict[str, Fault] = {
    **{f"redis-{seconds}": redis_outage(seconds) for seconds in (0, 2, 5, 12, 20)},
    "holder-kill": holder_kill,
    "broker-kill": broker_kill,
    "postgres-stop": postgres_stop,
}


async def run_scenario(
    name: str, fault: Fault, *, rate: float, workdir: Path
) -> tuple[list[Verdict], float, dict[int, int]]:
    cluster = Cluster(workdir)
    await asyncio.to_thread(cluster.start)
    observers = Observers(cluster)
    try:
        await observers.start()
        since = time.monotonic()
        writing = asyncio.create_task(observers.write(int(rate * 2), rate=rate))
        await asyncio.sleep(1.0)
        await fault(cluster, observers)
        ended = time.monotonic()
        await writing
        await observers.write(int(rate * 2), rate=rate)
        settled = await observers.settle(timeout=90, since=since)
        return observers.verdicts(since), settled - ended, dict(observers.refused)
    finally:
        await observers.stop()
        await asyncio.to_thread(cluster.stop)


async def faults(arguments: argparse.Namespace) -> None:
    names = arguments.scenarios.split(",") if arguments.scenarios else list(SCENARIOS)
    print("| scenario | run | channel | acknowledged | lost | duplicated | out of order | recovery s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |", flush=True)
    for name in names:
        for attempt in range(1, arguments.repeat + 1):
            try:
                with tempfile.TemporaryDirectory(prefix="titan-cluster-") as workdir:
                    verdicts, recovery, refused = await run_scenario(
                        name, SCENARIOS[name], rate=arguments.rate, workdir=Path(workdir)
                    )
            except Exception as exc:  # a run that could not be carried out is reported, not hidden
                print(
                    f"| {name} | {attempt} | run failed: {type(exc).__name__}: {str(exc)[:120]} | | | | | |"
                )
                continue
            for item in verdicts:
                print(f"| {name} | {attempt} | {item.channel} | {item.acknowledged} | {item.lost} | "
                      f"{item.duplicated} | {item.out_of_order} | {recovery:.1f} |", flush=True)  # fmt: skip
            print(f"# {name} #{attempt}: recovery {recovery:.1f} s, refused writes {refused}",
                  file=sys.stderr, flush=True)  # fmt: skip


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


class BusTap:
    """For --breakdown: when each titanseq appeared on the Redis stream, as the bench's XREAD saw it.

    Wall-clock seconds from the envelope's `time` to that moment, by titanseq. The bench's own
    reader adds its own wake-up to the figure (as the instances' tails do to theirs).
    """

    def __init__(self, url: str, stream: str = "titan:events") -> None:
        # Any: replies are parsed by hand (as in titan_core/events/redis_bus.py).
        self.client: Any = Redis.from_url(url)
        self.stream = stream
        self.on_bus: dict[int, float] = {}  # titanseq -> seconds from commit to the stream
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.client.aclose()

    async def _read(self) -> None:
        last = "$"
        while True:
            reply = await self.client.xread({self.stream: last}, block=1000, count=1000)
            now = time.time()
            for _stream, entries in reply or ():
                for _entry_id, fields in entries:
                    envelope = json.loads(fields[b"e"])
                    moment = datetime.fromisoformat(str(envelope["time"]).replace("Z", "+00:00"))
                    self.on_bus[int(envelope["titanseq"])] = now - moment.timestamp()
                last = entries[-1][0].decode()


def _breakdown(run: int, observers: Observers, tap: BusTap, since: float, until: float) -> None:
    """Per channel: commit -> bus and bus -> channel, p50/p99 over the run's events."""
    for name, channel in observers.channels.items():
        if name == "events":
            continue
        pairs = [(tap.on_bus[item.seq], item.latency - tap.on_bus[item.seq])
                 for item in channel.received if since <= item.arrived < until and item.seq in tap.on_bus]  # fmt: skip
        if not pairs:
            continue
        to_bus = [first for first, _ in pairs]
        onwards = [second for _, second in pairs]
        print(f"| {run} | {name} | {len(pairs)} | {_percentile(to_bus, 0.5):.1f} | {_percentile(to_bus, 0.99):.1f} "
              f"| {_percentile(onwards, 0.5):.1f} | {_percentile(onwards, 0.99):.1f} |", flush=True)  # fmt: skip


async def latency(arguments: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="titan-cluster-") as workdir:
        cluster = Cluster(Path(workdir))
        await asyncio.to_thread(cluster.start)
        observers = Observers(cluster)
        tap = BusTap(cluster.redis.url) if arguments.breakdown else None
        breakdowns: list[tuple[int, float, float]] = []
        try:
            await observers.start()
            if tap is not None:
                tap.start()
            await observers.write(int(arguments.rate), rate=arguments.rate)  # warm-up, not measured
            await observers.settle(timeout=30)
            print("| run | channel | events | p50 ms | p99 ms |")
            print("| --- | --- | --- | --- | --- |")
            summary: dict[str, list[tuple[float, float]]] = {}
            for run in range(1, arguments.runs + 1):
                # The bench's own pauses count as latency too: its readers keep every event they
                # got, so each full collection of its garbage collector took longer, run after
                # run. Frozen, what is kept is never scanned again (as `titan serve` does at start).
                gc.collect()
                gc.freeze()
                since = time.monotonic()
                await observers.write(int(arguments.rate * arguments.seconds), rate=arguments.rate)
                await observers.settle(timeout=30, since=since)
                for name, channel in observers.channels.items():
                    if name == "events":
                        continue
                    values = [item.latency for item in channel.received if item.arrived >= since]
                    if not values:
                        continue
                    p50, p99 = _percentile(values, 0.5), _percentile(values, 0.99)
                    summary.setdefault(name, []).append((p50, p99))
                    print(f"| {run} | {name} | {len(values)} | {p50:.1f} | {p99:.1f} |", flush=True)
                breakdowns.append((run, since, time.monotonic()))
            for name, figures in summary.items():
                print(f"| all | {name} | | {statistics.median(p for p, _ in figures):.1f} (median) | "
                      f"{max(p for _, p in figures):.1f} (worst) |")  # fmt: skip
            if tap is not None:
                print(
                    "\n| run | channel | events | commit -> bus p50 ms | p99 ms | bus -> channel p50 ms | p99 ms |"
                )
                print("| --- | --- | --- | --- | --- | --- | --- |")
                for run, since, until in breakdowns:
                    _breakdown(run, observers, tap, since, until)
        finally:
            if tap is not None:
                await tap.stop()
            await observers.stop()
            await asyncio.to_thread(cluster.stop)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["faults", "latency"])
    parser.add_argument("--scenarios", default="", help=f"comma-separated, of: {', '.join(SCENARIOS)}")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rate", type=float, default=None, help="writes per second (faults 50, latency 200)")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--breakdown", action="store_true", help="latency: also split each path at the Redis stream"
    )
    arguments = parser.parse_args()
    if arguments.rate is None:
        arguments.rate = 50.0 if arguments.what == "faults" else 200.0
    asyncio.run(faults(arguments) if arguments.what == "faults" else latency(arguments))


if __name__ == "__main__":
    main()
