"""The Redis Streams bus against a real Redis: idempotent publishing, history, a lost stream, trimming."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import pytest

from titan_core.delivery.bus import BusUnavailable, HistoryExpired, OutgoingEvent
from titan_core.delivery.redis_bus import RedisBus
from titan_core.delivery.runner import SinkRunner
from titan_core.testing import RecordingSink

BusFactory = Callable[..., "asyncio.Future[RedisBus]"]


def outgoing(seq: int) -> OutgoingEvent:
    envelope = {"specversion": "1.0", "titanseq": str(seq), "id": f"id-{seq}", "titanid": f"urn:{seq % 3}"}
    return OutgoingEvent(seq, json.dumps(envelope).encode())


@pytest.fixture
async def buses(redis_url: str, redis_prefix: str) -> AsyncIterator[list[RedisBus]]:
    """Started buses on this test's key prefix (`new_bus` appends), closed afterwards."""
    started: list[RedisBus] = []
    yield started
    for bus in reversed(started):
        await bus.close()


async def new_bus(
    buses: list[RedisBus],
    redis_url: str,
    prefix: str,
    name: str,
    *,
    retention: int = 1000,
    backlog: int = 10_000,
) -> RedisBus:
    bus = RedisBus(redis_url, prefix=prefix, retention=retention, backlog_limit=backlog, lease_ms=1000,
                   instance_id=name)  # fmt: skip
    await bus.start()
    buses.append(bus)
    return bus


async def test_publishing_again_is_idempotent_by_titanseq(
    buses: list[RedisBus], redis_url: str, redis_prefix: str
) -> None:
    bus = await new_bus(buses, redis_url, redis_prefix, "a")
    await bus.publish([outgoing(seq) for seq in (1, 2, 3)])
    await bus.publish([outgoing(seq) for seq in (2, 3, 4)])
    fresh = await new_bus(buses, redis_url, redis_prefix, "b")  # another instance, without the cache
    await fresh.publish([outgoing(seq) for seq in (3, 4, 5)])
    assert await bus.published_head() == 5
    assert [event.titanseq for event in await fresh.read(0, 100)] == [1, 2, 3, 4, 5]


async def test_every_instance_tails_the_stream_and_reads_older_history_from_it(
    buses: list[RedisBus], redis_url: str, redis_prefix: str
) -> None:
    publisher = await new_bus(buses, redis_url, redis_prefix, "a")
    await publisher.publish([outgoing(seq) for seq in range(1, 11)])
    late = await new_bus(buses, redis_url, redis_prefix, "b")
    assert late.head() == 10 and not late.log.covers(5)
    assert [event.titanseq for event in await late.read(5, 3)] == [6, 7, 8]
    await publisher.publish([outgoing(11)])
    assert await late.wait(10, 5.0)
    assert [event.titanseq for event in await late.read(10, 10)] == [11]


async def test_a_once_sink_needs_the_durable_feed_of_the_pipeline(
    buses: list[RedisBus], redis_url: str, redis_prefix: str
) -> None:
    bus = await new_bus(buses, redis_url, redis_prefix, "a")
    with pytest.raises(ValueError, match="position and lease in the database"):
        await bus.open_feed(RecordingSink("mq"))


async def test_publishing_after_redis_lost_the_stream_refuses_until_the_history_is_published_again(
    buses: list[RedisBus], redis_url: str, redis_prefix: str
) -> None:
    bus = await new_bus(buses, redis_url, redis_prefix, "a")
    await bus.publish([outgoing(seq) for seq in (1, 2, 3)])
    await bus.client.delete(bus.stream)  # what a Redis restarted without persistence looks like
    with pytest.raises(BusUnavailable, match="stream is gone"):
        await bus.publish([outgoing(4)])
    assert await bus.published_head() == 0  # nothing added: the relay republishes from the outbox first
    await bus.publish([outgoing(seq) for seq in (1, 2, 3, 4)])
    assert await bus.wait(3, 5.0), "the tail never saw titanseq 4"
    assert [event.titanseq for event in await bus.read(0, 10)] == [1, 2, 3, 4]


async def test_trimming_keeps_what_sinks_need_up_to_the_backlog_bound_and_the_loss_is_visible(
    buses: list[RedisBus], redis_url: str, redis_prefix: str
) -> None:
    bus = await new_bus(buses, redis_url, redis_prefix, "a", retention=5, backlog=20)
    await bus.publish([outgoing(seq) for seq in range(1, 15)])
    await bus.maintain({"mq": 4})  # a `once` sink still needs 4 on, within the bound: kept
    assert await bus.oldest() == 4
    await bus.publish([outgoing(seq) for seq in range(15, 31)])
    await bus.maintain({"mq": 4})  # 30 events, bound 20: trimmed to 11, past what the sink needs
    assert await bus.oldest() == 11
    with pytest.raises(HistoryExpired) as expired:
        await bus.read(2, 10)
    assert expired.value.oldest == 11

    lagging = RecordingSink("lagging", "each_instance")
    runner = SinkRunner(bus, [lagging], batch_size=100, timeout_s=5, retry_max_s=1)
    await runner.start()
    feed = runner._feeds["lagging"]
    try:
        await feed.skip_to(3)  # where an each_instance reader that fell behind stands
        await lagging.wait_for(lambda events: len(events) == 20)
        (status,) = runner.statuses()
        assert lagging.seqs == list(range(11, 31)) and status["lost_events"] == 7
    finally:
        await runner.stop()
