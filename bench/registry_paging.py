"""AAS Registry listing on PostgreSQL: --descriptors AAS descriptors, `GET /shell-descriptors?limit=100`
through every page by cursor, one client and then --clients at once, through the HTTP handler.

Usage (figures in docs/performance.md, "Registry"):
  .venv/bin/python bench/registry_paging.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
It creates a database of its own next to the one named (and drops it afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import insert
from sqlalchemy.engine import make_url
from throwaway_database import throwaway_database  # type: ignore[import-not-found]
from titan_plugin_registry import plugin as registry_plugin
from titan_plugin_registry.tables import shell_descriptors

from titan_core.app import create_app
from titan_core.gc_tuning import tune_for_serving
from titan_core.keys import DATABASE
from titan_core.model.identifiers import encode_identifier
from titan_core.plugins import get_plugin_manager
from titan_core.settings import Settings


def _descriptor(number: int) -> dict[str, Any]:
    identifier = f"https://plant.example/aas/{number}"
    return {
        "id": identifier, "idShort": f"Pump{number}", "assetKind": "Instance",
        "globalAssetId": f"urn:asset:{number}",
        "endpoints": [{"interface": "AAS-3.0", "protocolInformation": {
            "href": f"https://repo.example/shells/{encode_identifier(identifier)}", "endpointProtocol": "HTTP"}}],
    }  # fmt: skip


def registry_client(url: str) -> TestClient[Any, Any]:
    settings = Settings(database_url=url, relay_paused=True, services=("aas-registry", "submodel-registry"))
    manager = get_plugin_manager(settings, load_entry_points=False)
    manager.add_plugin(registry_plugin, "registry")
    return TestClient(TestServer(create_app(settings, plugin_manager=manager)))


async def fill(client: TestClient[Any, Any], count: int) -> None:
    async with client.app[DATABASE].write() as connection:
        for start in range(0, count, 5000):
            rows = []
            for number in range(start, min(count, start + 5000)):
                document = _descriptor(number)
                rows.append({"identifier": document["id"], "id_short": document["idShort"], "asset_kind": "Instance",
                             "global_asset_id": document["globalAssetId"], "version": 1,
                             "body": json.dumps(document, separators=(",", ":"))})  # fmt: skip
            await connection.execute(insert(shell_descriptors), rows)


async def walk(client: TestClient[Any, Any], limit: int, timings: list[tuple[float, float]]) -> int:
    """Every page by cursor: (wall-clock, CPU of this process) per request; returns the descriptors seen."""
    seen, cursor = 0, None
    while True:
        params = {"limit": str(limit)} | ({"cursor": cursor} if cursor else {})
        began, cpu = time.perf_counter(), time.process_time()
        response = await client.get("/shell-descriptors", params=params)
        page = json.loads(await response.read())
        timings.append((time.perf_counter() - began, time.process_time() - cpu))
        assert response.status == 200, page
        seen += len(page["result"])
        cursor = page["paging_metadata"].get("cursor")
        if not cursor:
            return seen


def summary(label: str, timings: list[tuple[float, float]], seconds: float, cpu_seconds: float) -> str:
    """Latency per page, and the CPU this process spent per page over the whole run (server and
    client: concurrent requests overlap, so per-request CPU readings would count each other's)."""
    ms = sorted(wall * 1000 for wall, _ in timings)
    p99 = ms[min(len(ms) - 1, round(len(ms) * 0.99))]
    return (f"{label}: {len(ms)} pages in {seconds:.1f} s ({len(ms) / seconds:.0f} pages/s), median "
            f"{statistics.median(ms):.2f} ms, p99 {p99:.2f} ms, max {ms[-1]:.2f} ms; CPU of this process "
            f"{cpu_seconds * 1000 / len(ms):.2f} ms per page")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--descriptors", type=int, default=100_000)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    async with throwaway_database(args.database_url, "titan_bench_registry") as url:
        client = registry_client(url)
        await client.start_server()  # migrates the core's chain and the registry's branch
        tune_for_serving()
        try:
            await fill(client, args.descriptors)
            plain = make_url(url)
            vacuum = await asyncpg.connect(
                host=plain.host, port=plain.port, user=plain.username, database=plain.database
            )
            await vacuum.execute("VACUUM ANALYZE")
            await vacuum.close()
            await walk(client, args.limit, [])  # warm-up: connections, statement caches
            one: list[tuple[float, float]] = []
            began, cpu = time.perf_counter(), time.process_time()
            assert await walk(client, args.limit, one) == args.descriptors
            one_run = (time.perf_counter() - began, time.process_time() - cpu)
            many: list[tuple[float, float]] = []
            began, cpu = time.perf_counter(), time.process_time()
            seen = await asyncio.gather(*(walk(client, args.limit, many) for _ in range(args.clients)))
            many_run = (time.perf_counter() - began, time.process_time() - cpu)
            assert seen == [args.descriptors] * args.clients
        finally:
            await client.close()
        print(f"{args.descriptors} AAS descriptors on PostgreSQL, pages of {args.limit}, "
              f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
        print(summary("one client", one, *one_run))
        print(
            summary(f"{args.clients} clients at once (clients and server share one process)", many, *many_run)
        )


if __name__ == "__main__":
    asyncio.run(main())
