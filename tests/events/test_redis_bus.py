"""The Redis Streams bus against a real Redis: idempotent publishing, history, consumer groups, trimming."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from titan_core.events.bus import HistoryExpired, OutgoingEvent
from titan_core.events.redis_bus import RedisBus
from titan_core.events.runner import SinkRunner

from .helpers import RecordingSink

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


async def test_a_once_consumer_that_dies_mid_batch_has_its_pending_events_taken_over(
    buses: list[RedisBus], redis_url: str, redis_prefix: str
) -> None:
    survivor = await new_bus(buses, redis_url, redis_prefix, "survivor")
    feed = await survivor.open_feed(RecordingSink("mq"))  # creates the group, before anything is published
    await survivor.publish([outgoing(seq) for seq in range(1, 11)])
    script = Path(__file__).with_name("once_consumer_process.py")
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script), redis_url, redis_prefix, "mq", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 20)
        assert json.loads(line) == [1, 2, 3, 4, 5]  # read, pending, never acknowledged
    finally:
        process.kill()
        await process.wait()
    got: list[int] = []
    deadline = asyncio.get_running_loop().time() + 10
    while len(got) < 10 and asyncio.get_running_loop().time() < deadline:
        batch = await feed.next_batch(100, 0.5)
        got.extend(event.titanseq for event in batch)
        await feed.ack(batch)
    assert got == list(range(1, 11))  # the dead consumer's batch first, in order, then the rest
    await feed.close()


async def test_trimming_keeps_what_sinks_need_up_to_the_backlog_bound_and_the_loss_is_visible(
    buses: list[RedisBus], redis_url: str, redis_prefix: str
) -> None:
    bus = await new_bus(buses, redis_url, redis_prefix, "a", retention=5, backlog=20)
    lagging = RecordingSink("lagging")
    feed = await bus.open_feed(lagging)
    await bus.publish([outgoing(seq) for seq in range(1, 4)])
    batch = await feed.next_batch(3, 2.0)
    await feed.ack(batch)  # consumed up to 3
    await feed.close()
    await bus.publish([outgoing(seq) for seq in range(4, 15)])
    await bus.maintain()  # 14 events: the group still needs 4 on, within the bound: nothing trimmed
    assert await bus.oldest() == 1 or await bus.oldest() <= 4
    await bus.publish([outgoing(seq) for seq in range(15, 31)])
    await bus.maintain()  # 30 events, bound 20: trimmed to 11, past what the group needs
    assert await bus.oldest() == 11
    assert bus.trimmed_unconsumed == 7
    with pytest.raises(HistoryExpired) as expired:
        await bus.read(2, 10)
    assert expired.value.oldest == 11

    runner = SinkRunner(bus, [lagging], batch_size=100, timeout_s=5, retry_max_s=1)
    await runner.start()
    try:
        await lagging.wait_for(lambda events: len(events) == 20)
        (status,) = runner.statuses()
        assert lagging.seqs == list(range(11, 31)) and status["lost_events"] == 7
    finally:
        await runner.stop()
