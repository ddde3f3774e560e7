"""Event Feed read latency on PostgreSQL: --events retained events (about 1% with a rare semanticId),
one client reading every matching page of --limit with the filter, through the HTTP handler.

Usage (figures in docs/performance.md, "Event Feed"):
  .venv/bin/python bench/event_feed.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
It creates a database of its own next to the one named (and drops it afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event, insert, update
from sqlalchemy.engine import make_url
from throwaway_database import throwaway_database  # type: ignore[import-not-found]

from titan_core.app import create_app
from titan_core.eventtypes.change import Change
from titan_core.eventtypes.envelope import build_envelope, dump_envelope, stored_element, uuid7
from titan_core.eventtypes.feed_types import feed_type
from titan_core.gc_tuning import tune_for_serving
from titan_core.keys import DATABASE
from titan_core.plugins import get_plugin_manager
from titan_core.settings import Settings
from titan_core.store.database import Database
from titan_core.store.tables import event_outbox, event_relay, event_semantic_keys

RARE = "urn:bench:rare"
# (wall-clock, CPU of this process, garbage collection, statements) of one request, seconds.
Timing = tuple[float, float, float, float]
COMMON = "0173-1#02-AAO677#002"


def _rows(start: int, count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    moment = datetime.now(UTC)
    rows, keys = [], []
    for seq in range(start, start + count):
        rare = seq % 100 == 0
        semantic = {
            "type": "ExternalReference",
            "keys": [{"type": "GlobalReference", "value": RARE if rare else COMMON}],
        }
        element = {
            "modelType": "Property",
            "idShort": "Value",
            "valueType": "xs:int",
            "value": str(seq),
            "semanticId": semantic,
        }
        change = Change(
            "valueChanged", "element", f"urn:bench:sm:{seq % 50}", "Value", COMMON, seq, element=element
        )
        event_id = uuid7()
        envelope = build_envelope(change, origin="rest", event_id=event_id, moment=moment)
        rows.append({"id": seq, "event_id": event_id, "envelope": dump_envelope(envelope), "created_at": moment,
                     "seq": seq, "element": stored_element(change), "feed_type": feed_type("element", "valueChanged"),
                     "titan_id": change.identifier})  # fmt: skip
        # seq as the relay sets it when it numbers the row (migration 0007).
        keys.append({"outbox_id": seq, "value": RARE if rare else COMMON, "seq": seq})
    return rows, keys


async def fill(url: str, events: int) -> None:
    database = Database(url)
    await database.migrate()
    async with database.write() as connection:
        for start in range(1, events + 1, 5000):
            rows, keys = _rows(start, min(5000, events + 1 - start))
            await connection.execute(insert(event_outbox), rows)
            await connection.execute(insert(event_semantic_keys), keys)
        await connection.execute(
            update(event_relay)
            .where(event_relay.c.name == "relay")
            .values(last_seq=events, published_seq=events)
        )
    await database.close()
    # What autovacuum does on a running server: statistics, and the visibility map index-only scans need.
    plain = make_url(url)
    vacuum = await asyncpg.connect(
        host=plain.host, port=plain.port, user=plain.username, database=plain.database
    )
    await vacuum.execute("VACUUM ANALYZE")
    # The fill wrote some 100 MB of WAL: a running server would have checkpointed it long ago, not
    # during the measured reads (the checkpoint's writes and fsyncs compete with them on the disk).
    await vacuum.execute("CHECKPOINT")
    await vacuum.close()


def feed_client(url: str) -> TestClient[Any, Any]:
    """A client of one Titan app on `url` (relay paused: the retained events are the bench's)."""
    settings = Settings(database_url=url, relay_paused=True, migrate_on_start=False)
    return TestClient(
        TestServer(create_app(settings, plugin_manager=get_plugin_manager(settings, load_entry_points=False)))
    )


class Collections:
    """Time the garbage collector spent (`gc.callbacks`), to tell its pauses from other waits."""

    def __init__(self) -> None:
        self.spent = 0.0
        self.full = 0
        self._began = 0.0
        gc.callbacks.append(self._record)

    def _record(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        self.spent += time.perf_counter() - self._began
        self.full += info["generation"] == 2

    def close(self) -> None:
        gc.callbacks.remove(self._record)


class Statements:
    """Wall-clock time from sending each statement to having its rows: PostgreSQL's part of a request
    (with the wait for this process to be scheduled again when the answer is there)."""

    def __init__(self, database: Database) -> None:
        self.spent = 0.0
        self._began = 0.0
        self._engine = database.read_engine.sync_engine
        event.listen(self._engine, "before_cursor_execute", self._before)
        event.listen(self._engine, "after_cursor_execute", self._after)

    def _before(self, *_: Any) -> None:
        self._began = time.perf_counter()

    def _after(self, *_: Any) -> None:
        self.spent += time.perf_counter() - self._began

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._before)
        event.remove(self._engine, "after_cursor_execute", self._after)


async def measure(
    client: TestClient[Any, Any], limit: int, collections: Collections, statements: Statements
) -> list[Timing]:
    """One pass through the filtered feed: (wall-clock, CPU of this process, garbage collection,
    statements) of each page request; the CPU is the handler's and the in-process client's, so that a loaded
    machine's waiting shows as the difference."""
    timings: list[Timing] = []
    cursor: str | None = None
    while True:
        params = {"limit": str(limit), "filter": f"data.semanticId.keys[*].value=={RARE}"}
        if cursor:
            params["cursor"] = cursor
        began, cpu, collected, queried = (
            time.perf_counter(), time.process_time(), collections.spent, statements.spent
        )  # fmt: skip
        response = await client.get("/event-feed", params=params)
        page = json.loads(await response.read())
        timings.append(
            (
                time.perf_counter() - began,
                time.process_time() - cpu,
                collections.spent - collected,
                statements.spent - queried,
            )
        )
        assert response.status == 200, page
        if not page["records"]:
            return timings
        cursor = page["cursor"]


async def server_activity(url: str) -> dict[str, int]:
    """Counters of what PostgreSQL did besides answering: checkpoints, and autovacuum or autoanalyze
    runs on the bench's tables."""
    plain = make_url(url)
    connection = await asyncpg.connect(
        host=plain.host, port=plain.port, user=plain.username, database=plain.database
    )
    try:
        checkpoints = await connection.fetchval(
            "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"
        )
        maintenance = await connection.fetchval(
            "SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0) FROM pg_stat_user_tables "
            "WHERE relname IN ('event_outbox', 'event_semantic_keys')"
        )
    finally:
        await connection.close()
    return {"checkpoints": int(checkpoints), "autovacuum or autoanalyze runs": int(maintenance)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--limit", type=int, default=100)
    # One pass through the filtered feed is only ~11 pages: a p99 needs several passes.
    parser.add_argument("--rounds", type=int, default=20, help="measured passes through the feed")
    args = parser.parse_args()
    async with throwaway_database(args.database_url, "titan_bench_feed") as url:
        await fill(url, args.events)
        # One running server, as a feed reader meets it: a warm-up pass (connections, statement
        # caches), then the measured passes.
        client = feed_client(url)
        await client.start_server()
        tune_for_serving()  # the garbage-collector settings `titan serve` runs with
        collections, statements = Collections(), Statements(client.app[DATABASE])
        try:
            await measure(client, args.limit, collections, statements)
            before, collections.full = await server_activity(url), 0
            timings = []
            for _ in range(args.rounds):
                timings += await measure(client, args.limit, collections, statements)
            after = await server_activity(url)
        finally:
            collections.close()
            statements.close()
            await client.close()
        report(args, timings, collections, {name: after[name] - before[name] for name in after})


def report(
    args: argparse.Namespace, timings: list[Timing], collections: Collections, server: dict[str, int]
) -> None:
    ms = sorted(timing[0] * 1000 for timing in timings)
    cpu_ms = statistics.median(timing[1] * 1000 for timing in timings)
    p99 = ms[min(len(ms) - 1, round(len(ms) * 0.99))]
    print(
        f"{args.events} retained events, filter selecting {args.events // 100}, pages of {args.limit}: "
        f"{len(ms)} requests, median {statistics.median(ms):.2f} ms, p99 {p99:.2f} ms, max {ms[-1]:.2f} ms; "
        f"median CPU of this process per request {cpu_ms:.2f} ms; load average {os.getloadavg()[0]:.1f}"
    )
    # Where the slowest requests' time went: CPU of this process (of which garbage collection), and
    # the statements' time in PostgreSQL; what is left is waiting for a core other processes held.
    slowest = sorted(timings, reverse=True)[:3]
    print(
        "slowest requests (wall / CPU / of which GC / statements, ms): "
        + ", ".join(" / ".join(f"{part * 1000:.1f}" for part in timing) for timing in slowest)
        + f"; full collections {collections.full}; during the measured passes PostgreSQL ran "
        + ", ".join(f"{count} {name}" for name, count in server.items())
    )


if __name__ == "__main__":
    asyncio.run(main())
