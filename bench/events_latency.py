"""Event pipeline benchmarks: commit → sink delivery latency at a fixed rate, and relay throughput.

latency:    value writes through the Repository at --rate per second (open loop) for --seconds; each
            write's commit time (when the write returned) against the time a `once` sink got it.
throughput: a pre-filled outbox of --events rows (relay paused while filling), then one relay drains
            it onto the bus; events/s from the relay's start until the bus head reaches the last one.

Usage (figures in docs/performance.md, "Event pipeline"):
  .venv/bin/python bench/events_latency.py latency --bus memory
  .venv/bin/python bench/events_latency.py latency --bus redis://127.0.0.1:6379/0
  .venv/bin/python bench/events_latency.py throughput --bus redis://127.0.0.1:6379/0
Add --database-url postgresql+asyncpg://… to run on PostgreSQL (default: a fresh SQLite file).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openloop import schedule_open_loop

from titan_core.auth import ANONYMOUS
from titan_core.delivery.pipeline import EventPipeline
from titan_core.delivery.sink import Event
from titan_core.eventtypes.change import Change
from titan_core.model.paths import parse_id_short_path
from titan_core.settings import Settings
from titan_core.store.database import Database
from titan_core.store.outbox import OutboxRecorder
from titan_core.store.repository import Repository

SUBMODELS = 20
VALUE_PATH = parse_id_short_path("Value")


class TimingSink:
    """Notes when each value arrived (values are unique per write)."""

    name = "bench"
    fanout = "once"

    def __init__(self) -> None:
        self.arrived: dict[Any, float] = {}

    async def deliver(self, events: Sequence[Event]) -> None:
        now = time.perf_counter()
        for event in events:
            if event.envelope["type"].endswith("valueChanged"):
                self.arrived[event.envelope["data"]] = now


def _submodel(index: int) -> dict[str, Any]:
    return {
        "modelType": "Submodel",
        "id": f"urn:bench:sm:{index}",
        "submodelElements": [
            {"modelType": "Property", "idShort": "Value", "valueType": "xs:int", "value": "-1"}
        ],
    }


async def _open(settings: Settings, sinks: Sequence[Any]) -> tuple[Database, Repository, EventPipeline]:
    database = Database(settings.database_url)
    await database.migrate()
    recorder = OutboxRecorder()  # as the server has it: not validating
    repository = Repository(database, recorder=recorder)
    pipeline = EventPipeline(settings, database, sinks, recorder=recorder)
    await pipeline.start()
    return database, repository, pipeline


async def measure_latency(settings: Settings, rate: float, seconds: float) -> dict[str, Any]:
    sink = TimingSink()
    database, repository, pipeline = await _open(settings, [sink])
    try:
        for index in range(SUBMODELS):
            await repository.put(
                "submodel", f"urn:bench:sm:{index}", _submodel(index), origin="rest", principal=ANONYMOUS
            )
        await asyncio.sleep(0.5)
        committed: dict[int, float] = {}

        async def write(value: int) -> None:
            await repository.set_element_value(
                f"urn:bench:sm:{value % SUBMODELS}", VALUE_PATH, value, origin="rest", principal=ANONYMOUS
            )
            committed[value] = time.perf_counter()

        total = int(rate * seconds)
        await schedule_open_loop(rate, total, write)
        deadline = time.monotonic() + 10
        while len(sink.arrived) < total and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        latencies = sorted(
            (sink.arrived[value] - committed[value]) * 1000 for value in committed if value in sink.arrived
        )
    finally:
        await pipeline.stop()
        await database.close()
    return {
        "writes": total,
        "delivered": len(latencies),
        "rate_per_s": rate,
        "p50_ms": round(statistics.median(latencies), 3),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 3),
        "max_ms": round(latencies[-1], 3),
    }


async def measure_throughput(settings: Settings, events: int) -> dict[str, Any]:
    paused = settings.replace(relay_paused=True)
    database, _repository, pipeline = await _open(paused, [])
    recorder = OutboxRecorder(validate=False)
    change = Change(type="valueChanged", entity="element", identifier="urn:bench:sm:0", path="Value", data=1)
    try:
        for start in range(0, events, 1000):
            async with database.write() as connection:
                await recorder.record(connection, [change] * min(1000, events - start), origin="rest")
    finally:
        await pipeline.stop()
        await database.close()
    database, _repository, running = await _open(settings, [])
    try:
        started = time.perf_counter()
        target = events
        while await running.bus.published_head() < target:
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
    finally:
        await running.stop()
        await database.close()
    return {"events": events, "seconds": round(elapsed, 3), "events_per_s": round(events / elapsed)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["latency", "throughput"])
    parser.add_argument("--bus", default="memory")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    folder = tempfile.mkdtemp(prefix="titan-bench-events-")
    database_url = args.database_url or f"sqlite+aiosqlite:///{folder}/bench.sqlite3"
    settings = Settings(
        database_url=database_url, bus=args.bus, bus_prefix=f"titan-bench-{secrets.token_hex(4)}:"
    )
    if args.what == "latency":
        result = asyncio.run(measure_latency(settings, args.rate, args.seconds))
    else:
        result = asyncio.run(measure_throughput(settings, args.events))
    result = {"benchmark": args.what, "bus": args.bus.split("@")[-1], "database": database_url.split("@")[-1],
              **result}  # fmt: skip
    print(json.dumps(result))
    _cleanup_redis(settings)
    Path(folder, "bench.sqlite3").unlink(missing_ok=True)
    return 0


def _cleanup_redis(settings: Settings) -> None:
    if not settings.bus.startswith("redis"):
        return
    import redis

    client = redis.Redis.from_url(settings.bus)
    keys = list(client.scan_iter(match=settings.bus_prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


if __name__ == "__main__":
    sys.exit(main())
