"""AAS Registry at scale (issue 17): `titan serve` with the registry plugin on a PostgreSQL database of
its own, --shells AAS descriptors (each with 2-3 submodel descriptors, endpoints and specificAssetIds),
--clients concurrent clients. Two measures, each answer checked:

  pages  every client walks `GET /shell-descriptors?limit=100` through all pages by cursor
         (target: p99 <= 20 ms per page); each walk must list every descriptor once, in order;
  get    `GET /shell-descriptors/{id}` for random ids for --duration seconds (p50/p99);
         the answer must be that descriptor.

Reports latency percentiles, throughput, the server's CPU time per request (the server is a
separate process, so the clients' CPU is not counted), the CPU used by everything else on the
machine and the load average; writes the report as JSON to --results-dir.

The descriptors are written through the registry's own write path, in process and without HTTP:
each is checked against the IDTA schema (`check_descriptor`), inserted by the plugin's `store.add`
and its `created` event recorded in the outbox, --batch descriptors per transaction (the plugin has
no bulk route; 100,000 POSTs would take most of the bench's time). The tables come from the
plugin's own migration, run by the server when it starts, so the indexes are exactly the shipped ones.

    .venv/bin/python bench/registry_pages.py                          # 100,000 shells, 16 clients
    .venv/bin/python bench/registry_pages.py --shells 10000 --duration 5
    .venv/bin/python bench/registry_pages.py --measure get
    .venv/bin/python bench/registry_pages.py --profile /tmp/registry.prof   # then: python -m pstats
    .venv/bin/python bench/registry_pages.py --generator wrk --workers 2

`--generator wrk` runs the 16-client measures from wrk (closed loop, 16 connections) instead of
asyncio tasks in this process, which on a small machine take CPU the server would otherwise have;
`--workers N` serves with `titan serve --workers N` on the Redis bus.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from titan_plugin_registry import store
from titan_plugin_registry.descriptors import check_descriptor
from titan_plugin_registry.registry import ORIGIN

from titan_core.loader import operator_principal
from titan_core.plugin_api import Change
from titan_core.plugins import store_wiring
from titan_core.settings import Settings
from titan_core.store.database import open_database
from titan_core.store.repository import Repository

sys.path.insert(0, str(Path(__file__).parent))
from procs import ManagedServer, free_port, machine_busy_seconds
from redis_keys import drop_keys
from report import report_header, save_report, table_row
from throwaway_database import throwaway_database
from wrk_runner import PATHS_SCRIPT, run_wrk

POSTGRES = os.environ.get("TITAN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("TITAN_TEST_REDIS", "redis://127.0.0.1:6379/0")
TARGET_PAGE_P99_MS = 20.0
PAGE_LIMIT = 100
SUBMODELS = (
    ("Nameplate", "https://admin-shell.io/zvei/nameplate/2/0/Nameplate"),
    ("TechnicalData", "https://admin-shell.io/ZVEI/TechnicalData/Submodel/1/2"),
    ("HandoverDocumentation", "0173-1#01-AHF578#001"),
)


def shell_id(number: int) -> str:
    return f"https://bench.example/aas/{number:07d}"


def submodel_id(number: int, name: str) -> str:
    return f"https://bench.example/sm/{number:07d}/{name}"


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def _endpoint(path: str, interface: str) -> dict[str, Any]:
    href = f"https://repo.bench.example/api/v3.0/{path}"
    information = {"href": href, "endpointProtocol": "HTTP", "endpointProtocolVersion": ["1.1"]}
    return {"interface": interface, "protocolInformation": information}


def descriptor(number: int) -> dict[str, Any]:
    """A shell descriptor as a repository registers it: about 1.6 KB of JSON."""
    identifier = shell_id(number)
    submodels = [
        {
            "id": submodel_id(number, name),
            "idShort": name,
            "semanticId": {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": semantic}]},
            "endpoints": [_endpoint(f"submodels/{b64(submodel_id(number, name))}", "SUBMODEL-3.0")],
        }
        for name, semantic in SUBMODELS[: 2 + number % 2]
    ]  # fmt: skip
    return {
        "id": identifier,
        "idShort": f"Pump{number:07d}",
        "assetKind": "Instance",
        "assetType": "https://bench.example/types/pump",
        "globalAssetId": f"https://bench.example/asset/{number:07d}",
        "specificAssetIds": [
            {"name": "serialNumber", "value": f"SN-{number:07d}"},
            {"name": "manufacturerPartId", "value": f"P-{number % 500:03d}"},
        ],
        "endpoints": [_endpoint(f"shells/{b64(identifier)}", "AAS-3.0")],
        "submodelDescriptors": submodels,
    }


async def fill(database_url: str, shells: int, batch: int) -> float:
    """Registers `shells` descriptors through the plugin's write path, `batch` per transaction; seconds."""
    started = time.perf_counter()
    # The plugin's entity kinds registered, as `titan serve` and `titan load` do, for its events.
    store_wiring(Settings(database_url=database_url, plugins=("registry",)))
    database = open_database(database_url)
    repository = Repository(database)
    principal = operator_principal("bench/registry_pages.py")
    try:
        for first in range(0, shells, batch):
            async with repository.transaction(principal, origin=ORIGIN) as tx:
                for number in range(first, min(first + batch, shells)):
                    document = check_descriptor("shell_descriptor", descriptor(number))
                    await store.add(tx.connection, "shell_descriptor", document)
                    tx.record(Change("created", "shell_descriptor", document["id"], data=document))
    finally:
        await database.close()
    return time.perf_counter() - started


async def settle(database: str) -> float:
    """Waits until the server's relay has published every `created` event of the fill (it would
    otherwise be publishing them during the measures), then VACUUM ANALYZE and CHECKPOINT; the
    seconds it took."""
    started = time.perf_counter()
    connection = await asyncpg.connect(database)
    try:
        while await connection.fetchval("SELECT count(*) FROM event_outbox WHERE seq IS NULL"):
            if time.perf_counter() - started > 600:
                raise RuntimeError("the relay did not publish the fill's events within 600 s")
            await asyncio.sleep(1)
        await connection.execute("VACUUM ANALYZE registry_shell_descriptors")
        # Write the fill's dirty pages now: a checkpoint during a measure (PostgreSQL's timed one, or
        # the one another bench's DROP DATABASE forces) took CPU and I/O from it.
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()
    return time.perf_counter() - started


# The checks of a page read the plugin's output without parsing all of it (a page is about 170 KB,
# and json.loads of it would cost the clients, on the same cores, more CPU than the server spends):
# the paging metadata opens the answer, and each AAS descriptor's id is the only "id" with /aas/.
PAGE_START = re.compile(rb'\{"paging_metadata":(\{[^}]*\}),"result":\[')
SHELL_ID = re.compile(rb'"id":"https://bench\.example/aas/(\d{7})"')


async def walk(
    session: aiohttp.ClientSession,
    base: str,
    shells: int,
    latencies: list[float],
    paths: list[str] | None = None,
) -> int:
    """All pages, by cursor; the number of wrong answers (a page in error or not in the plugin's
    shape, a descriptor missing, repeated or out of order). `paths`: gets each page's path."""
    wrong, seen, cursor = 0, 0, None
    while True:
        path = f"/shell-descriptors?limit={PAGE_LIMIT}" + (f"&cursor={cursor}" if cursor else "")
        if paths is not None:
            paths.append(path)
        url = base + path
        started = time.perf_counter()
        async with session.get(url) as response:
            raw = await response.read()
        latencies.append(time.perf_counter() - started)
        opening = PAGE_START.match(raw)
        if response.status != 200 or opening is None:
            return wrong + 1
        numbers = [int(number) for number in SHELL_ID.findall(raw)]
        wrong += numbers != list(range(seen, seen + len(numbers))) or len(numbers) > PAGE_LIMIT
        seen += len(numbers)
        cursor = json.loads(opening.group(1)).get("cursor")
        if cursor is None:
            return wrong + (seen != shells)


async def random_gets(
    session: aiohttp.ClientSession, base: str, shells: int, stop_at: float, latencies: list[float]
) -> int:
    wrong = 0
    while time.perf_counter() < stop_at:
        identifier = shell_id(random.randrange(shells))
        started = time.perf_counter()
        async with session.get(f"{base}/shell-descriptors/{b64(identifier)}") as response:
            raw = await response.read()
        latencies.append(time.perf_counter() - started)
        wrong += response.status != 200 or json.loads(raw)["id"] != identifier
    return wrong


def summary(latencies: list[float], seconds: float) -> dict[str, Any]:
    ordered = sorted(latencies)

    def percentile(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000

    return {
        "requests": len(ordered), "seconds": seconds, "rate_per_s": len(ordered) / seconds,
        "p50_ms": percentile(0.50), "p90_ms": percentile(0.90), "p99_ms": percentile(0.99),
        "max_ms": ordered[-1] * 1000,
    }  # fmt: skip


async def database_counters(database: str) -> dict[str, float]:
    """PostgreSQL's counters of the bench's database: connections opened, transactions, time spent in
    statements (ms). Per database, so the other users of the shared PostgreSQL are not counted."""
    connection = await asyncpg.connect(POSTGRES)
    try:
        row = await connection.fetchrow(
            "SELECT sessions, xact_commit + xact_rollback AS transactions, active_time"
            " FROM pg_stat_database WHERE datname = $1",
            database.rsplit("/", 1)[1],
        )
    finally:
        await connection.close()
    assert row is not None
    return {key: float(row[key]) for key in ("sessions", "transactions", "active_time")}


async def measure_with_wrk(
    server: ManagedServer, name: str, args: argparse.Namespace, base: str, database: str
) -> dict[str, Any]:
    """The same measure from wrk (`--generator wrk`), --duration seconds: `pages` requests the pages
    of a walk made first (every page by its real cursor, each connection from its own point of the
    list and around), `get` random ids. The walk made first and the Python warm-up check the
    contents exactly; wrk checks each answer's status, and the shape of each descriptor it gets
    (not of each page: handing wrk's Lua every 170 KB page to look at cost more CPU than the
    server's work on it)."""
    async with aiohttp.ClientSession() as session:
        if name == "pages":
            paths: list[str] = []
            wrong = await walk(session, base, args.shells, [], paths)
            assert wrong == 0, "the walk before the wrk run found wrong pages"
            expect = None
        else:
            stop_at = time.perf_counter() + args.warmup
            wrong = sum(await asyncio.gather(
                *(random_gets(session, base, args.shells, stop_at, []) for _ in range(args.clients))
            ))  # fmt: skip
            assert wrong == 0, "wrong answers in the warm-up"
            paths = [
                f"/shell-descriptors/{b64(shell_id(random.randrange(args.shells)))}" for _ in range(100_000)
            ]
            expect = r'"id":"https://bench%.example/aas/%d+"'
    database_before = await database_counters(database)
    load_before = os.getloadavg()
    with tempfile.NamedTemporaryFile("w", suffix=".paths") as listing:
        listing.write("\n".join(paths))
        listing.flush()
        run = await asyncio.to_thread(
            run_wrk, base, duration_s=args.duration, connections=args.clients, threads=2,
            server_pid=server.pid, script=PATHS_SCRIPT,
            script_env={"WRK_PATHS_FILE": listing.name, **({"WRK_EXPECT": expect} if expect else {})},
        )  # fmt: skip
    await asyncio.sleep(1.5)  # PostgreSQL publishes a session's counters at most once a second
    database_after = await database_counters(database)
    return {
        "name": name, "clients": args.clients, "generator": "wrk", "requests": run.requests,
        "seconds": run.duration_s, "rate_per_s": run.requests_per_s, "p50_ms": run.p50_ms,
        "p90_ms": run.p90_ms, "p99_ms": run.p99_ms, "max_ms": run.max_ms,
        "wrong_answers": run.wrong + run.errors,
        "server_cpu_ms_per_request": run.server_cpu_percent * 10 / run.requests_per_s,
        "server_cpu_percent": run.server_cpu_percent,
        **{f"database_{key}_per_request": (database_after[key] - database_before[key]) / run.requests
           for key in database_before},
        "generator_cpu_percent": run.generator_cpu_percent, "other_cpu_percent": run.other_cpu_percent,
        "loadavg_before": list(load_before), "loadavg_after": list(os.getloadavg()),
    }  # fmt: skip


async def measure(
    server: ManagedServer, name: str, args: argparse.Namespace, base: str, database: str, clients: int
) -> dict[str, Any]:
    """One measure with `clients` clients: its latencies, PostgreSQL's counters, and the CPU the server,
    this process and everything else on the machine used meanwhile (percent of one core)."""
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        # Warm-up: the connections (and the server's pool), its caches, PostgreSQL's buffers.
        stop_at = time.perf_counter() + args.warmup
        await asyncio.gather(*(random_gets(session, base, args.shells, stop_at, []) for _ in range(clients)))
        database_before = await database_counters(database)
        server_before, own_before, busy_before = (
            server.cpu_seconds(),
            time.process_time(),
            machine_busy_seconds(),
        )
        load_before = os.getloadavg()
        started = time.perf_counter()
        if name == "pages":
            wrong = await asyncio.gather(
                *(walk(session, base, args.shells, latencies) for _ in range(clients))
            )
        else:
            stop_at = started + args.duration
            wrong = await asyncio.gather(
                *(random_gets(session, base, args.shells, stop_at, latencies) for _ in range(clients))
            )
        seconds = time.perf_counter() - started
    server_cpu = server.cpu_seconds() - server_before
    own_cpu = time.process_time() - own_before
    other_cpu = machine_busy_seconds() - busy_before - server_cpu - own_cpu
    # PostgreSQL publishes a session's counters at most once a second, and when it ends.
    await asyncio.sleep(1.5)
    database_after = await database_counters(database)
    result = summary(latencies, seconds)
    return {
        "name": name, "clients": clients, **result, "wrong_answers": sum(wrong),
        "server_cpu_ms_per_request": server_cpu * 1000 / result["requests"],
        "server_cpu_percent": 100 * server_cpu / seconds,
        **{f"database_{key}_per_request": (database_after[key] - database_before[key]) / result["requests"]
           for key in database_before},
        "generator_cpu_percent": 100 * own_cpu / seconds,
        "other_cpu_percent": 100 * other_cpu / seconds,
        "loadavg_before": list(load_before), "loadavg_after": list(os.getloadavg()),
    }  # fmt: skip


def markdown(report: dict[str, Any]) -> str:
    settings = report["settings"]
    headers = [
        "measure",
        "clients",
        "requests",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "server CPU ms/req",
    ]
    headers += [
        "PostgreSQL connections/req",
        "PostgreSQL statement ms/req",
        "server CPU",
        "client CPU",
        "other CPU (PostgreSQL included)",
        "load avg (1 min) before/after",
        "wrong",
    ]
    lines = [
        f"## Registry benchmark {report['started']}",
        "",
        f"{settings['shells']:,} AAS descriptors on PostgreSQL (registered in {report['fill_s']:.0f} s, "
        "their events published "
        f"{report['relay_drain_s']:.0f} s later, before the measures), "
        f"{settings['clients']} concurrent clients, pages of {PAGE_LIMIT}; registry at {report['registry_commit']}.",
        "",
        table_row(headers),
        table_row(["---"] + ["---:"] * (len(headers) - 1)),
    ]
    for run in report["runs"]:
        generator = " (wrk)" if run.get("generator") == "wrk" else ""
        cells = [
            run["name"] + generator,
            str(run["clients"]),
            f"{run['requests']:,}",
            f"{run['rate_per_s']:,.0f}",
        ]
        cells += [f"{run[key]:.1f}" for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms")]
        cells += [f"{run['server_cpu_ms_per_request']:.2f}", f"{run['database_sessions_per_request']:.2f}"]
        cells += [f"{run['database_active_time_per_request']:.2f}"]
        cells += [
            f"{run[key]:.0f}%" for key in ("server_cpu_percent", "generator_cpu_percent", "other_cpu_percent")
        ]
        cells += [f"{run['loadavg_before'][0]:.2f}/{run['loadavg_after'][0]:.2f}", str(run["wrong_answers"])]
        lines.append(table_row(cells))
        if run["name"] == "pages" and run["clients"] == settings["clients"]:
            verdict = "met" if run["p99_ms"] <= TARGET_PAGE_P99_MS else "**missed**"
            report.setdefault("verdicts", []).append(
                f"pages p99 <= {TARGET_PAGE_P99_MS:.0f} ms: {run['p99_ms']:.1f} ms, {verdict}"
            )
    lines += ["", "CPU columns: percent of ONE core over the measure (the machine has 2).", ""]
    lines += [f"- {verdict}" for verdict in report.get("verdicts", [])]
    return "\n".join(lines)


def _registry_commit() -> str:
    plugin = Path(__file__).parent.parent / "plugins" / "titan_plugin_registry"
    found = os.popen(f"git -C {plugin} log -1 --format=%h -- .").read().strip()
    return found or "unknown"


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shells", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of random GETs")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--batch", type=int, default=2000, help="descriptors per fill transaction")
    parser.add_argument("--measure", choices=("pages", "get", "both"), default="both")
    parser.add_argument("--titan-python", default=sys.executable)
    parser.add_argument("--profile", type=Path, help="run the server under cProfile, statistics to this file")
    parser.add_argument("--results-dir", type=Path, default=Path("bench/results"))
    parser.add_argument(
        "--generator",
        choices=("python", "wrk"),
        default="python",
        help="the clients of the 16-client measures: asyncio tasks here, or wrk",
    )
    parser.add_argument("--workers", type=int, default=1, help="titan serve --workers N (Redis bus)")
    args = parser.parse_args()
    started = datetime.datetime.now(datetime.UTC)

    runs = []
    async with throwaway_database(
        POSTGRES.replace("postgresql://", "postgresql+asyncpg://", 1), "regbench"
    ) as url:
        database = url.replace("postgresql+asyncpg://", "postgresql://", 1)  # asyncpg's own spelling
        port = free_port()
        environment = {**os.environ, "TITAN_DATABASE_URL": url, "TITAN_PLUGINS": "registry",
                       "TITAN_LOG_LEVEL": "WARNING"}  # fmt: skip
        if args.workers > 1:
            # Several workers share events through Redis; a key prefix of this run's own.
            environment |= {"TITAN_BUS": REDIS, "TITAN_BUS_PREFIX": f"regbench{os.getpid()}:"}
        with tempfile.TemporaryDirectory() as scratch:
            # cProfile writes its statistics when the server stops (SIGINT) at the end.
            profiling = ["-m", "cProfile", "-o", str(args.profile.resolve())] if args.profile else []
            command = [args.titan_python, *profiling, "-m", "titan_core", "serve", "--port", str(port)]
            if args.workers > 1:
                command += ["--workers", str(args.workers)]
            server = ManagedServer("titan", command, f"http://127.0.0.1:{port}/health",
                                   Path(scratch) / "serve.log", env=environment)  # fmt: skip
            with server:
                fill_seconds = await fill(url, args.shells, args.batch)
                relay_seconds = await settle(database)
                base = f"http://127.0.0.1:{port}"
                for measure_name in ("pages", "get"):
                    if args.measure in (measure_name, "both"):
                        if args.generator == "wrk":
                            runs.append(await measure_with_wrk(server, measure_name, args, base, database))
                        else:
                            runs.append(
                                await measure(server, measure_name, args, base, database, args.clients)
                            )
                if args.measure in ("pages", "both"):
                    # One client alone: the time a page takes when no other request waits before it.
                    runs.append(await measure(server, "pages", args, base, database, 1))

    if args.workers > 1:
        await drop_keys(REDIS, f"regbench{os.getpid()}:")
    report = {**report_header(started, args), "fill_s": fill_seconds, "relay_drain_s": relay_seconds,
              "registry_commit": _registry_commit(), "runs": runs}  # fmt: skip
    save_report(report, markdown(report), args.results_dir, "registry")


if __name__ == "__main__":
    asyncio.run(main())
