"""Issue 11: a `once` sink's position and lease live in PostgreSQL, so Redis may restart empty; the
outbox keeps what the slowest `once` sink still needs; what a sink never gets is counted exactly;
a commit on any instance wakes the relay (LISTEN/NOTIFY)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import select, text

from tests.support.app import AppClient
from tests.support.redis import ThrowawayRedis
from titan_core.delivery.once_feed import UNSTORED_MAX_S
from titan_core.delivery.pipeline import EventPipeline
from titan_core.delivery.sink import Event, Fanout
from titan_core.delivery.sink_lease import SinkLease
from titan_core.keys import BUS, DATABASE, EVENT_PIPELINE
from titan_core.settings import Settings
from titan_core.store.database import Database
from titan_core.store.tables import event_outbox, event_sinks
from titan_core.testing import RecordingSink, TitanClients

from .helpers import SM_ID, b64, call, prop, submodel

VALUE = f"/submodels/{b64(SM_ID)}/submodel-elements/Speed/$value"
pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


class GatedSink:
    """A `once` sink whose deliveries wait while its gate is closed (a consumer that lags)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.fanout: Fanout = "once"
        self.gate = asyncio.Event()
        self.gate.set()
        self.waiting = asyncio.Event()
        self.seqs: list[int] = []

    async def deliver(self, events: Sequence[Event]) -> None:
        if not self.gate.is_set():
            self.waiting.set()
            await self.gate.wait()
        self.seqs.extend(item.titanseq for item in events)


async def _until(condition: object, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        await asyncio.sleep(0.02)


async def _until_position(database: Database, position: int, timeout: float = 10.0) -> None:
    """Wait until the sink `mq` has stored `position` (acknowledged after `deliver` returned)."""
    deadline = time.monotonic() + timeout
    stored = None
    while stored != position:
        assert time.monotonic() < deadline, f"sink mq stored position {stored}, expected {position}"
        await asyncio.sleep(0.02)
        async with database.read() as connection:
            stored = (
                await connection.execute(select(event_sinks.c.position).where(event_sinks.c.name == "mq"))
            ).scalar_one_or_none()


def _status(pipeline: EventPipeline, name: str) -> dict[str, Any]:
    (status,) = [item for item in pipeline.status()["sinks"] if item["name"] == name]
    return status


def _redis_settings(settings: Settings, url: str, **changes: object) -> Settings:
    return settings.replace(bus=url, relay_poll_ms=50, sink_lease_ms=1000, sink_timeout_ms=1000, **changes)


async def test_a_once_sink_resumes_from_its_durable_position_after_redis_restarts_empty(
    make_titan_client: TitanClients, settings: Settings, throwaway_redis: ThrowawayRedis
) -> None:
    custom = _redis_settings(settings, throwaway_redis.url)
    sinks = [RecordingSink("mq"), RecordingSink("mq")]  # the same sink on two instances
    clients = [await make_titan_client(custom, sinks=[sink]) for sink in sinks]
    await call(
        clients[0],
        "POST",
        "/submodels",
        201,
        json=submodel(elements=[prop("Speed", "0", value_type="xs:int")]),
    )
    for value in range(1, 10):
        await call(clients[value % 2], "PATCH", VALUE, 204, json=value)
    await _until(lambda: sum(len(s.events) for s in sinks) >= 10, "the first 10 events at the sink")

    await asyncio.to_thread(throwaway_redis.stop)
    for value in range(10, 15):  # Redis away: writes still commit, publishing waits
        await call(clients[value % 2], "PATCH", VALUE, 204, json=value)
    await asyncio.to_thread(throwaway_redis.start)  # back, and empty
    for value in range(15, 20):
        await call(clients[value % 2], "PATCH", VALUE, 204, json=value)
    await _until(lambda: sum(len(s.events) for s in sinks) >= 20, "all 20 events at the sink", timeout=30)

    (holder,) = [sink for sink in sinks if sink.events]  # one instance delivered all of it
    assert holder.seqs == list(range(1, 21))  # from where it stood: nothing again, nothing skipped
    assert [e.envelope.get("data") for e in holder.events[1:]] == list(range(1, 20))
    statuses = [s for c in clients for s in c.app[EVENT_PIPELINE].status()["sinks"] if s["name"] == "mq"]
    assert [s["lost_events"] for s in statuses] == [0, 0]
    await _until_position(clients[0].app[DATABASE], 20)


async def _two_instances_lease(database: Database) -> tuple[SinkLease, SinkLease]:
    """The leases of the sink `mq` on two instances, `first` and `second` (lease 1 s, batch timeout
    2 s), both registered."""
    leases = [
        SinkLease(database, "mq", holder=name, lease_ms=1000, batch_timeout_ms=2000)
        for name in ("first", "second")
    ]
    for lease in leases:
        await lease.register()
    return leases[0], leases[1]


async def test_only_the_lease_holder_delivers_and_a_new_one_waits_lease_plus_batch_timeout(
    database: Database,
) -> None:
    first, second = await _two_instances_lease(database)
    owned = await first.take_over()
    assert owned is not None and first.held
    renewed = time.monotonic()
    assert await first.save(5)
    assert await second.take_over() is None and not second.held

    # `first` stops renewing (a process that hangs, or a database it cannot reach): `second`
    # gets the sink only after lease (1 s) + batch timeout (2 s) since the last renewal.
    taken = None
    while taken is None:
        assert time.monotonic() - renewed < 15, "the second instance never took the sink over"
        await asyncio.sleep(0.1)
        taken = await second.take_over()
    assert time.monotonic() - renewed >= 3.0
    assert taken.position == 5 and taken.token == owned.token + 1
    assert not first.held  # its own clock says it may start no batch
    assert not await first.save(9)  # and its token no longer moves the position
    assert first.token is None
    assert await second.save(6)
    async with database.read() as connection:
        row = (await connection.execute(select(event_sinks))).one()
    assert (row.holder, row.token, row.position) == ("second", owned.token + 1, 6)


async def test_a_holder_that_stops_cleanly_stores_its_last_position_as_it_releases(
    database: Database,
) -> None:
    first, second = await _two_instances_lease(database)
    assert await first.take_over() is not None
    assert await first.save(5)
    await first.release(9)  # delivered up to 9; the store after the batch had not run yet
    taken = await second.take_over()  # at once: no waiting for the lease to run out
    assert taken is not None and taken.position == 9
    await second.release(3)  # never moves the position back
    async with database.read() as connection:
        row = (await connection.execute(select(event_sinks))).one()
    assert (row.holder, row.position) == (None, 9)


async def _a_store_waits_for_the_lock(database: Database) -> None:
    """Wait until a statement of this test's database waits for a lock (the sink row's store)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND query LIKE '%event_sinks%'"
    )
    deadline = time.monotonic() + 10
    while True:
        async with database.read() as connection:
            if (await connection.execute(query)).scalar_one():
                return
        assert time.monotonic() < deadline, "the holder's position store never waited for the row lock"
        await asyncio.sleep(0.02)


async def test_batches_go_out_while_the_position_is_stored_until_it_waited_too_long(
    make_titan_client: TitanClients, settings: Settings, redis_url: str, redis_prefix: str
) -> None:
    # A long lease: the stores below wait for a lock, and no renewal gets through meanwhile.
    custom = settings.replace(bus=redis_url, bus_prefix=redis_prefix, relay_poll_ms=50,
                              sink_lease_ms=60_000, sink_batch_size=1)  # fmt: skip
    sink = RecordingSink("mq")
    other = RecordingSink("other")  # a `once` sink of its own row, woken by the same events
    client = await make_titan_client(custom, sinks=[sink, other])
    database = client.app[DATABASE]
    await call(
        client, "POST", "/submodels", 201, json=submodel(elements=[prop("Speed", "0", value_type="xs:int")])
    )
    await _until_position(database, 1)
    async with database.write() as locker:  # another transaction holds the sink's row
        await locker.execute(select(event_sinks).where(event_sinks.c.name == "mq").with_for_update())
        await call(client, "PATCH", VALUE, 204, json=2)
        await sink.wait_for(lambda events: len(events) == 2)
        await _a_store_waits_for_the_lock(database)  # storing position 2
        await call(client, "PATCH", VALUE, 204, json=3)
        # Pipelined: titanseq 3 goes out although position 2 is not stored yet ...
        await sink.wait_for(lambda events: len(events) == 3)
        # ... but once deliveries went unstored for UNSTORED_MAX_S, at most the batch being
        # acknowledged then goes out: titanseq 5 waits for a store to get through.
        await asyncio.sleep(sink.arrival[2] + UNSTORED_MAX_S - time.perf_counter() + 0.05)
        for value in (4, 5):
            await call(client, "PATCH", VALUE, 204, json=value)
        # The other sink got titanseq 5: so would `mq` by now, were it not held up.
        await other.wait_for(lambda events: len(events) == 5)
        released = time.perf_counter()
    await sink.wait_for(lambda events: len(events) == 5)
    assert sink.seqs == [1, 2, 3, 4, 5]
    assert sink.arrival[3] < released < sink.arrival[5]
    await _until_position(database, 5)


async def _thirty_events_behind_a_held_sink(
    make_titan_client: TitanClients, custom: Settings, sink: GatedSink
) -> AppClient:
    """A client whose `once` sink got titanseq 1 and then holds titanseq 2, not yet delivered (its
    position stays at 1), while all 30 events (a POST and 29 value writes) are published."""
    client = await make_titan_client(custom, sinks=[sink])
    await call(
        client, "POST", "/submodels", 201, json=submodel(elements=[prop("Speed", "0", value_type="xs:int")])
    )
    await _until(lambda: sink.seqs == [1], "the first event at the sink")
    sink.gate.clear()
    for value in range(1, 30):
        await call(client, "PATCH", VALUE, 204, json=value)
    await sink.waiting.wait()
    pipeline = client.app[EVENT_PIPELINE]
    await _until(lambda: pipeline.relay.status()["published"] == "30", "all 30 events published")
    return client


async def test_a_sink_lagging_beyond_retention_gets_everything_after_redis_restarts_empty(
    make_titan_client: TitanClients,
    settings: Settings,
    throwaway_redis: ThrowawayRedis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    custom = _redis_settings(settings, throwaway_redis.url, event_retention=5, sink_batch_size=1)
    sink = GatedSink("mq")
    client = await _thirty_events_behind_a_held_sink(make_titan_client, custom, sink)
    pipeline = client.app[EVENT_PIPELINE]
    await pipeline.relay.maintain()  # the slowest sink stands at 1: nothing after it is deleted
    async with client.app[DATABASE].read() as connection:
        kept = (
            (await connection.execute(select(event_outbox.c.seq).order_by(event_outbox.c.seq)))
            .scalars()
            .all()
        )
    assert kept == list(range(2, 31))

    await asyncio.to_thread(throwaway_redis.kill)
    await asyncio.to_thread(throwaway_redis.start)  # empty
    with caplog.at_level(logging.ERROR, logger="titan_core.delivery"):
        sink.gate.set()
        await _until(lambda: len(sink.seqs) >= 30, "all 30 events at the lagging sink", timeout=30)
    assert sink.seqs == list(range(1, 31))
    assert _status(pipeline, "mq")["lost_events"] == 0
    assert not [r for r in caplog.records if "lost" in r.getMessage()]


async def test_events_trimmed_beyond_the_backlog_limit_are_counted_exactly_and_logged_once(
    make_titan_client: TitanClients,
    settings: Settings,
    redis_url: str,
    redis_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    custom = _redis_settings(settings, redis_url, bus_prefix=redis_prefix, event_retention=5,
                             event_backlog_limit=10, sink_batch_size=1)  # fmt: skip
    sink = GatedSink("mq")
    client = await _thirty_events_behind_a_held_sink(make_titan_client, custom, sink)
    pipeline = client.app[EVENT_PIPELINE]
    await pipeline.relay.maintain()  # the backlog bound (10) wins over the sink: 1..20 go
    with caplog.at_level(logging.ERROR, logger="titan_core.delivery"):
        sink.gate.set()
        await _until(lambda: sink.seqs[-1:] == [30], "the newest event at the lagging sink")
    assert sink.seqs == [1, 2, *range(21, 31)]
    status = _status(pipeline, "mq")
    assert status["lost_events"] == 18 == 30 - len(set(sink.seqs))
    (line,) = [r.getMessage() for r in caplog.records if "lost" in r.getMessage()]
    assert "'mq' lost 18 events (titanseq 3 to 20)" in line
    await _until_position(client.app[DATABASE], 30)
    async with client.app[DATABASE].read() as connection:
        row = (await connection.execute(select(event_sinks).where(event_sinks.c.name == "mq"))).one()
    assert row.lost_events == 18


async def test_a_commit_on_any_instance_wakes_the_relay_without_waiting_for_its_poll(
    make_titan_client: TitanClients, settings: Settings, redis_url: str, redis_prefix: str
) -> None:
    # A poll of a minute: only a wake-up can publish within the deadline below.
    slow_poll = settings.replace(bus=redis_url, bus_prefix=redis_prefix, relay_poll_ms=60_000,
                                 relay_lease_ms=300_000)  # fmt: skip
    leader = await make_titan_client(slow_poll)
    other = await make_titan_client(slow_poll)
    assert leader.app[EVENT_PIPELINE].relay.leader and not other.app[EVENT_PIPELINE].relay.leader
    await _until(lambda: other.app[EVENT_PIPELINE].listener.listening, "the other instance listening")
    await call(
        leader, "POST", "/submodels", 201, json=submodel(elements=[prop("Speed", "0", value_type="xs:int")])
    )
    await _until(lambda: leader.app[BUS].head() == 1, "the first event")
    started = time.monotonic()
    await call(other, "PATCH", VALUE, 204, json=5)  # committed where the relay does not run
    await _until(lambda: leader.app[BUS].head() == 2, "the relay woken by the other instance's commit", 10)
    assert time.monotonic() - started < 10
