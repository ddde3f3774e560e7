"""The discovery plugin's start-up back-fill at scale: shells stored without the plugin (two asset
ids each: a globalAssetId and a serialNumber), then the back-fill as a start with the plugin runs it,
then again (nothing to do). In one process, on SQLite and on a PostgreSQL database of its own.

Reports the back-fill's wall time, the asset_link events it recorded, how late a 10 ms ticker on the
event loop came meanwhile (p99 and worst: what a request arriving then would wait), and the
process's peak RSS after loading and after the back-fill (its memory stays bounded by the chunk).

    .venv/bin/python bench/discovery_backfill.py                    # 100,000 shells, both databases
    .venv/bin/python bench/discovery_backfill.py --shells 10000 --databases sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from titan_plugin_discovery import plugin
from titan_plugin_discovery.backfill import backfill

from titan_core.auth import ANONYMOUS
from titan_core.eventtypes.kinds import register_entity_kinds
from titan_core.gc_tuning import tune_for_serving
from titan_core.store.database import Database
from titan_core.store.repository import Repository

sys.path.insert(0, str(Path(__file__).parent))
from throwaway_database import throwaway_database

POSTGRES = os.environ.get("TITAN_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
LOAD_BATCH = 5_000


def shell(number: int) -> dict[str, Any]:
    return {
        "modelType": "AssetAdministrationShell",
        "id": f"https://bench.example/aas/{number:07d}",
        "assetInformation": {
            "assetKind": "Instance",
            "globalAssetId": f"https://bench.example/asset/{number:07d}",
            "specificAssetIds": [{"name": "serialNumber", "value": f"SN-{number:07d}"}],
        },
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def stalls(work: Callable[[], Awaitable[Any]]) -> tuple[Any, float, list[float]]:
    """`work()`'s result, its wall time and how late each 10 ms tick came meanwhile (sorted)."""
    late: list[float] = []
    running = True

    async def ticker() -> None:
        last = time.perf_counter()
        while running:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            late.append(now - last - 0.01)
            last = now

    ticking = asyncio.create_task(ticker())
    started = time.perf_counter()
    try:
        result = await work()
    finally:
        running = False
        await ticking
    return result, time.perf_counter() - started, sorted(late)


def milliseconds(late: list[float], share: float) -> float:
    return round(late[min(len(late) - 1, int(len(late) * share))] * 1000, 1)


async def measure(url: str, shells: int) -> dict[str, Any]:
    database = Database(url)
    try:
        await database.migrate()  # the core only: the shells go in as if the plugin were not installed
        repository = Repository(database)
        started = time.perf_counter()
        for start in range(0, shells, LOAD_BATCH):
            documents = [shell(number) for number in range(start, min(start + LOAD_BATCH, shells))]
            await repository.import_environment(
                {"assetAdministrationShells": documents}, origin="load", principal=ANONYMOUS
            )
        loaded = time.perf_counter() - started
        rss_loaded = peak_rss_mb()
        # What a start with the plugin does first: its branch, then its kinds.
        await database.migrate([("discovery", source) for source in plugin.titan_migrations()])
        register_entity_kinds(plugin.titan_entity_kinds(), owner="discovery")
        tune_for_serving()  # as `titan serve` does before it serves (and the back-fill runs)
        first, first_s, first_late = await stalls(lambda: backfill(repository))
        second, second_s, second_late = await stalls(lambda: backfill(repository))
    finally:
        await database.close()
    return {
        "shells": shells,
        "load_s": round(loaded, 1),
        "first_s": round(first_s, 1),
        "first_events": first.events,
        "first_tick_late_p99_ms": milliseconds(first_late, 0.99),
        "first_tick_late_max_ms": milliseconds(first_late, 1.0),
        "second_s": round(second_s, 1),
        "second_events": second.events,
        "second_tick_late_p99_ms": milliseconds(second_late, 0.99),
        "second_tick_late_max_ms": milliseconds(second_late, 1.0),
        "rss_after_load_mb": round(rss_loaded),
        "rss_after_backfill_mb": round(peak_rss_mb()),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shells", type=int, default=100_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    options = parser.parse_args()
    for name in options.databases.split(","):
        if name == "sqlite":
            with tempfile.TemporaryDirectory() as directory:
                result = await measure(f"sqlite+aiosqlite:///{directory}/titan.sqlite3", options.shells)
        else:
            async with throwaway_database(POSTGRES, "titan_bench_backfill") as url:
                result = await measure(url, options.shells)
        print(name, result, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
