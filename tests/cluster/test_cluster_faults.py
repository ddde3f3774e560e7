"""Issue 11 with real processes: two `titan serve` instances on private PostgreSQL, Redis and
Mosquitto, a writer, `/events`, a WebSocket client per instance and an MQTT subscriber. After each
fault every acknowledged write's event is on every channel, in titanseq order per element, and no
sink counted a loss."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from .harness import Cluster, ClusterFactory, Observers, describe

pytestmark = [pytest.mark.slow, pytest.mark.fault, pytest.mark.timeout(240)]


async def _started(
    make_cluster: ClusterFactory, observe: Callable[[Cluster], Observers], env: dict[str, str] | None = None
) -> tuple[Cluster, Observers]:
    """A running two-instance cluster with every channel's observer connected."""
    cluster = await asyncio.to_thread(make_cluster, env)
    observers = observe(cluster)
    await observers.start()
    return cluster, observers


async def _assert_every_channel_complete(cluster: Cluster, observers: Observers) -> None:
    await observers.settle(timeout=60)
    verdicts = observers.verdicts()
    assert observers.acknowledged, f"no write was acknowledged: {observers.refused}"
    assert all(v.ok for v in verdicts), f"{describe(verdicts)}\n{cluster.logs()}"
    assert await cluster.lost_events() == 0, cluster.logs()


async def test_redis_killed_and_restarted_empty_after_12_s_loses_and_reorders_nothing(
    make_cluster: ClusterFactory, observe: Callable[[Cluster], Observers]
) -> None:
    cluster, observers = await _started(make_cluster, observe)
    await observers.write(100, rate=50)
    await asyncio.to_thread(cluster.redis.kill)
    await observers.write(240, rate=20)  # 12 s without Redis: the writes still commit
    await asyncio.to_thread(cluster.redis.start)  # empty: no persistence
    await observers.write(100, rate=50)
    assert not observers.refused, observers.refused
    await _assert_every_channel_complete(cluster, observers)


async def test_the_instance_delivering_mqtt_killed_with_sigkill_loses_and_reorders_nothing(
    make_cluster: ClusterFactory, observe: Callable[[Cluster], Observers]
) -> None:
    cluster, observers = await _started(make_cluster, observe)
    holder = await cluster.holder_of("mqtt")
    writing = asyncio.create_task(observers.write(500, rate=50))
    await asyncio.sleep(3)
    await asyncio.to_thread(cluster.kill, holder)  # mid-burst; its writes in flight fail
    await asyncio.sleep(2)
    await asyncio.to_thread(cluster.restart, holder)
    await writing
    survivor = await cluster.holder_of("mqtt")
    assert survivor is not None
    await _assert_every_channel_complete(cluster, observers)


async def test_a_sink_lagging_beyond_retention_when_redis_restarts_empty_gets_everything(
    make_cluster: ClusterFactory, observe: Callable[[Cluster], Observers]
) -> None:
    cluster, observers = await _started(make_cluster, observe, {"TITAN_EVENT_RETENTION": "100"})
    await observers.write(50, rate=50)
    cluster.pause_broker()  # MQTT stops acknowledging: the mqtt sink falls behind
    try:
        await observers.write(300, rate=50)  # 3 x event_retention behind
        await asyncio.sleep(6)  # the relay trims (every 5 s): never past the lagging sink
        await asyncio.to_thread(cluster.redis.kill)
        await asyncio.to_thread(cluster.redis.start)  # empty
    finally:
        cluster.resume_broker()
    await observers.write(50, rate=50)
    assert not observers.refused, observers.refused
    await _assert_every_channel_complete(cluster, observers)


async def test_postgres_stopped_for_5_s_refuses_with_503_and_loses_and_reorders_nothing(
    make_cluster: ClusterFactory, observe: Callable[[Cluster], Observers]
) -> None:
    cluster, observers = await _started(make_cluster, observe)
    await observers.write(100, rate=50)
    acknowledged_before = len(observers.acknowledged)
    await asyncio.to_thread(cluster.postgres.stop, "fast")
    try:
        await observers.write(100, rate=20)  # 5 s without the database, on both instances
    finally:
        await asyncio.to_thread(cluster.postgres.start)
    for index in range(len(cluster.servers)):
        await _wait_until_ready(cluster, index)
    await observers.write(100, rate=50)
    # During the outage a write is refused with 503 (retryable) or, if the stop caught it on the
    # wire, gets no answer (0): never a 500. Writes before and after were all acknowledged.
    assert set(observers.refused) <= {0, 503} and observers.refused.get(503), observers.refused
    assert len(observers.acknowledged) >= acknowledged_before + 100, observers.refused
    await _assert_every_channel_complete(cluster, observers)


async def _wait_until_ready(cluster: Cluster, index: int, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        report = await cluster.ready(index)
        if report.get("status") == "ready":
            return
        assert asyncio.get_running_loop().time() < deadline, f"instance {index} not ready: {report}"
        await asyncio.sleep(0.2)
