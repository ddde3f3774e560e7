"""Discovery lookup by asset id at scale (issue 17): `titan serve` with the discovery plugin on a
PostgreSQL database of its own, 100,000 shells' asset links, 16 concurrent clients asking for random
asset ids. Reports latency percentiles (target: p99 <= 10 ms), throughput and the server's CPU time
per lookup, and checks every answer (exactly the shell of that asset id).

The links are written straight into `discovery_asset_links` (COPY), two per shell as the write hook
stores them (the globalAssetId and a serialNumber): the bench measures lookups, and loading 100,000
shells through the REST API would take most of its time. The table is created by the plugin's own
migration when the server starts, so its indexes are exactly the shipped ones.

    .venv/bin/python bench/discovery_lookup.py                       # 100,000 shells, 16 clients, 20 s
    .venv/bin/python bench/discovery_lookup.py --shells 10000 --duration 5
    .venv/bin/python bench/discovery_lookup.py --route search        # POST /lookup/shellsByAssetLink
    .venv/bin/python bench/discovery_lookup.py --route shell         # baseline: the core's GET /shells/{id}

On a busy machine compare the server's CPU time per request with the `shell` baseline taken right
before, in the same conditions: the core's own point read of one shell.

The clients are asyncio tasks in this process by default, which on a small machine take CPU the
server would otherwise have. `--generator wrk` sends the same requests from wrk (16 connections,
closed loop: each sends its next request when the answer arrived) at a fraction of that CPU;
the Python clients' warm-up run still checks every answer exactly, wrk checks that each answer
is 200 with exactly one shell id. `--workers N` serves with `titan serve --workers N` (on the Redis
bus, as several workers need it).

    .venv/bin/python bench/discovery_lookup.py --generator wrk --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).parent))
from procs import ManagedServer, cpu_description, free_port
from redis_keys import drop_keys
from wrk_runner import PATHS_SCRIPT, run_wrk

POSTGRES = os.environ.get("TITAN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("TITAN_TEST_REDIS", "redis://127.0.0.1:6379/0")


BASELINE_SHELL = "https://bench.example/aas/baseline"


def shell_id(number: int) -> str:
    return f"https://bench.example/aas/{number:07d}"


def asset_id(number: int) -> str:
    return f"https://bench.example/asset/{number:07d}"


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


async def fill(database_url: str, shells: int) -> float:
    """Two links per shell, as the write hook stores them; returns the seconds it took."""
    started = time.perf_counter()
    connection = await asyncpg.connect(database_url)
    try:
        rows = []
        for number in range(shells):
            gid = {"name": "globalAssetId", "value": asset_id(number)}
            serial = {"name": "serialNumber", "value": f"SN-{number:07d}"}
            rows.append((shell_id(number), "derived", 0, gid["name"], gid["value"], json.dumps(gid)))
            rows.append((shell_id(number), "derived", 1, serial["name"], serial["value"], json.dumps(serial)))
        await connection.copy_records_to_table(
            "discovery_asset_links", records=rows,
            columns=["shell_id", "source", "position", "name", "value", "body"],
        )  # fmt: skip
        await connection.execute("ANALYZE discovery_asset_links")
    finally:
        await connection.close()
    return time.perf_counter() - started


async def client(
    session: aiohttp.ClientSession, base: str, route: str, shells: int, stop_at: float, latencies: list[float]
) -> int:
    wrong = 0
    while time.perf_counter() < stop_at:
        number = random.randrange(shells)
        link = {"name": "globalAssetId", "value": asset_id(number)}
        started = time.perf_counter()
        if route == "get":
            response = await session.get(f"{base}/lookup/shells?assetIds={b64(json.dumps(link))}")
        elif route == "search":
            response = await session.post(f"{base}/lookup/shellsByAssetLink", json=[link])
        else:
            response = await session.get(f"{base}/shells/{b64(BASELINE_SHELL)}")
        body = await response.json()
        latencies.append(time.perf_counter() - started)
        expected = BASELINE_SHELL if route == "shell" else [shell_id(number)]
        found = body.get("id") if route == "shell" else body.get("result")
        if response.status != 200 or found != expected:
            wrong += 1
    return wrong


async def measure(base: str, route: str, shells: int, clients: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        stop_at = time.perf_counter() + seconds
        wrong = await asyncio.gather(
            *(client(session, base, route, shells, stop_at, latencies) for _ in range(clients))
        )
    latencies.sort()

    def percentile(fraction: float) -> float:
        return latencies[min(len(latencies) - 1, int(fraction * len(latencies)))] * 1000

    return {
        "requests": len(latencies), "wrong_answers": sum(wrong), "rate_per_s": len(latencies) / seconds,
        "p50_ms": percentile(0.50), "p90_ms": percentile(0.90), "p99_ms": percentile(0.99),
        "max_ms": latencies[-1] * 1000, "mean_ms": statistics.fmean(latencies) * 1000,
    }  # fmt: skip


def lookup_path(route: str, number: int) -> str:
    if route == "shell":
        return f"/shells/{b64(BASELINE_SHELL)}"
    link = {"name": "globalAssetId", "value": asset_id(number)}
    return f"/lookup/shells?assetIds={b64(json.dumps(link))}"


def measure_with_wrk(
    base: str, route: str, shells: int, clients: int, seconds: float, server_pid: int
) -> dict[str, Any]:
    """The same closed loop from wrk: random asset ids (a list of 200,000 drawn up front)."""
    if route == "search":
        raise SystemExit("--generator wrk sends GET requests only: use --route get or shell")
    expect = r'^{"paging_metadata":{},"result":%["https://bench%.example/aas/%d+"%]}$'
    if route == "shell":
        expect = '"id":"' + BASELINE_SHELL.replace(".", "%.").replace("-", "%-") + '"'
    with tempfile.NamedTemporaryFile("w", suffix=".paths") as listing:
        listing.write("\n".join(lookup_path(route, random.randrange(shells)) for _ in range(200_000)))
        listing.flush()
        run = run_wrk(
            base, duration_s=seconds, connections=clients, threads=2, server_pid=server_pid,
            script=PATHS_SCRIPT, script_env={"WRK_PATHS_FILE": listing.name, "WRK_EXPECT": expect},
        )  # fmt: skip
    return {
        "requests": run.requests, "wrong_answers": run.wrong + run.errors, "rate_per_s": run.requests_per_s,
        "p50_ms": run.p50_ms, "p90_ms": run.p90_ms, "p99_ms": run.p99_ms, "max_ms": run.max_ms,
        "server_cpu_ms_per_lookup": run.server_cpu_percent * 10 / run.requests_per_s,
        "generator_cpu_percent": run.generator_cpu_percent, "server_cpu_percent": run.server_cpu_percent,
        "other_cpu_percent": run.other_cpu_percent,
    }  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shells", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--route", choices=("get", "search", "shell"), default="get")
    parser.add_argument("--titan-python", default=sys.executable)
    parser.add_argument("--generator", choices=("python", "wrk"), default="python")
    parser.add_argument("--workers", type=int, default=1, help="titan serve --workers N (Redis bus)")
    args = parser.parse_args()

    name = f"discovery_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(POSTGRES)
    await admin.execute(f'CREATE DATABASE "{name}"')
    database = POSTGRES.rsplit("/", 1)[0] + "/" + name
    port = free_port()
    environment = {
        **os.environ,
        "TITAN_DATABASE_URL": database.replace("postgresql://", "postgresql+asyncpg://", 1),
        "TITAN_PLUGINS": "discovery",
        "TITAN_LOG_LEVEL": "WARNING",
    }
    if args.workers > 1:
        # Several workers share events through Redis; a key prefix of this run's own.
        environment |= {"TITAN_BUS": REDIS, "TITAN_BUS_PREFIX": f"{name}:"}
    try:
        with tempfile.TemporaryDirectory() as scratch:
            command = [args.titan_python, "-m", "titan_core", "serve", "--port", str(port)]
            if args.workers > 1:
                command += ["--workers", str(args.workers)]
            server = ManagedServer("titan", command, f"http://127.0.0.1:{port}/health",
                                   Path(scratch) / "serve.log", env=environment)  # fmt: skip
            with server:
                fill_seconds = await fill(database, args.shells)
                base = f"http://127.0.0.1:{port}"
                async with aiohttp.ClientSession() as session:
                    information = {"assetKind": "Instance", "globalAssetId": "urn:bench:baseline"}
                    baseline = {"id": BASELINE_SHELL, "modelType": "AssetAdministrationShell",
                                "assetInformation": information}  # fmt: skip
                    async with session.post(f"{base}/shells", json=baseline) as response:
                        assert response.status == 201, await response.text()
                warmup = await measure(base, args.route, args.shells, args.clients, args.warmup)
                assert warmup["wrong_answers"] == 0, f"wrong answers in the warm-up: {warmup}"
                if args.generator == "wrk":
                    result = await asyncio.to_thread(
                        measure_with_wrk,
                        base,
                        args.route,
                        args.shells,
                        args.clients,
                        args.duration,
                        server.pid,
                    )
                else:
                    cpu_before = server.cpu_seconds()
                    result = await measure(base, args.route, args.shells, args.clients, args.duration)
                    result["server_cpu_ms_per_lookup"] = (
                        (server.cpu_seconds() - cpu_before) * 1000 / result["requests"]
                    )
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        if args.workers > 1:
            await drop_keys(REDIS, f"{name}:")

    report = {"shells": args.shells, "clients": args.clients, "route": args.route, "fill_s": fill_seconds,
              "generator": args.generator, "workers": args.workers, "machine": cpu_description(),
              **result}  # fmt: skip
    print(json.dumps(report, indent=2))
    print(
        "\n| shells | clients | route | lookups/s | p50 ms | p90 ms | p99 ms | max ms | server CPU ms/lookup "
        "| wrong |\n"
        f"| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
        f"| {args.shells:,} | {args.clients} | {args.route} | {result['rate_per_s']:.0f} | {result['p50_ms']:.1f} | "
        f"{result['p90_ms']:.1f} | {result['p99_ms']:.1f} | {result['max_ms']:.1f} | "
        f"{result['server_cpu_ms_per_lookup']:.2f} | {result['wrong_answers']} |"
    )


if __name__ == "__main__":
    asyncio.run(main())
