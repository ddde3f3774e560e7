"""The event publisher against real Mosquitto brokers set up with limits: it honours what CONNACK
announces (Receive Maximum, Maximum Packet Size), reports publishes the broker's ACL refuses instead
of retrying them forever, and notices a broker that stops answering (keepalive)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from titan_plugin_mqtt.config import MqttConfig
from titan_plugin_mqtt.connection import Outgoing
from titan_plugin_mqtt.publisher import EventPublisher

from tests.support.mosquitto import ThrowawayMosquitto

from .mqtt_helpers import Recorder


def broker_with(*lines: str) -> ThrowawayMosquitto:
    """A throwaway Mosquitto with extra configuration lines (written before it starts)."""
    broker = ThrowawayMosquitto()
    with broker.config_path.open("a", encoding="utf-8") as config:
        config.write("".join(f"{line}\n" for line in lines))
    return broker


@pytest.fixture
def limited_broker() -> Iterator[ThrowawayMosquitto]:
    with broker_with("max_inflight_messages 5", "max_packet_size 2000") as broker:
        yield broker


@contextlib.asynccontextmanager
async def running(url: str, **settings: str) -> AsyncIterator[EventPublisher]:
    """An event publisher connected to `url`, stopped on the way out."""
    publisher = EventPublisher(MqttConfig.from_section({"url": url, **settings}))
    publisher.start()
    try:
        await publisher.wait_connected(10)
        yield publisher
    finally:
        await publisher.stop()


async def test_the_brokers_receive_maximum_caps_the_messages_in_flight(
    limited_broker: ThrowawayMosquitto,
) -> None:
    async with running(limited_broker.url) as publisher:
        connects, connected, in_flight = await publish_300_counting_in_flight(publisher, limited_broker.url)

    assert max(in_flight) == 5  # Mosquitto's max_inflight_messages, announced as Receive Maximum
    # Exceeding Receive Maximum would have got the connection closed (reason 0x93).
    assert connects == 1 and connected


async def publish_300_counting_in_flight(publisher: EventPublisher, url: str) -> tuple[int, bool, list[int]]:
    in_flight: list[int] = []
    wire = publisher._wire
    assert wire is not None
    track = wire.track

    def counting_track(*args: object) -> int:
        packet_id = track(*args)  # type: ignore[arg-type]
        in_flight.append(len(wire.in_flight))
        return packet_id

    wire.track = counting_track  # type: ignore[method-assign]
    messages = [Outgoing(f"limits/{n % 3}", str(n).encode(), 1) for n in range(300)]
    async with Recorder(url, ["limits/#"]) as recorder:
        refused = await publisher.publish_many(messages, timeout=10)
        await recorder.wait_for(lambda got: len(got) == 300, what="all 300 messages")
    assert refused == []
    assert [int(m.payload) for m in recorder.messages] == list(range(300))
    return publisher.connects, publisher.connected, in_flight


async def test_a_message_above_the_brokers_maximum_packet_size_is_refused_and_the_rest_go_out(
    limited_broker: ThrowawayMosquitto,
) -> None:
    messages = [
        Outgoing("size/a", b"small-1", 1),
        Outgoing("size/b", b"x" * 3000, 1),
        Outgoing("size/c", b"small-2", 0),
    ]
    async with running(limited_broker.url) as publisher, Recorder(limited_broker.url, ["size/#"]) as recorder:
        refused = await publisher.publish_many(messages, timeout=10)
        await recorder.wait_for(lambda got: len(got) == 2, what="the two small messages")
        connects = publisher.connects

    assert [(r.message.topic, r.reason) for r in refused] == [
        ("size/b", "larger (3014 bytes) than the broker's Maximum Packet Size 2000")
    ]
    assert [m.payload for m in recorder.messages] == [b"small-1", b"small-2"]
    assert connects == 1


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_publishes_the_acl_denies_are_reported_on_mqtt_5_and_silently_dropped_on_311(
    protocol: str,
) -> None:
    broker = ThrowawayMosquitto()
    acl = broker.base_dir / "acl"
    acl.write_text("topic readwrite allowed/#\n", encoding="utf-8")
    # Mosquitto drops root for its own user before it reads the ACL file.
    acl.chmod(0o644)
    broker.base_dir.chmod(0o755)
    with broker.config_path.open("a", encoding="utf-8") as config:
        config.write(f"acl_file {acl}\n")
    with broker:
        messages = [
            Outgoing("allowed/1", b"1", 1),
            Outgoing("denied/2", b"2", 1),
            Outgoing("denied/3", b"3", 2),
            Outgoing("allowed/4", b"4", 2),
        ]
        async with running(broker.url, protocol=protocol) as publisher:
            refused = await publisher.publish_many(messages, timeout=10)
            connects = publisher.connects

    if protocol == "5":
        assert [(r.message.topic, r.reason) for r in refused] == [
            ("denied/2", "PUBACK reason code 0x87 not authorized"),
            ("denied/3", "PUBREC reason code 0x87 not authorized"),
        ]
    else:  # MQTT 3.1.1 has no way to say no: Mosquitto acknowledges and drops
        assert refused == []
    assert connects == 1


async def test_a_broker_that_stops_answering_is_dropped_after_one_and_a_half_keepalives() -> None:
    settings = {"keepalive": "1", "reconnect_min": "0.2", "reconnect_max": "0.5"}
    with ThrowawayMosquitto() as broker:
        async with running(broker.url, **settings) as publisher:
            noticed_after, error, connects = await silence(broker, publisher)

    assert "keepalive" in error
    assert 1.0 <= noticed_after < 3.0
    assert connects == 2


async def silence(broker: ThrowawayMosquitto, publisher: EventPublisher) -> tuple[float, str, int]:
    """Freeze the broker until the publisher drops it; thaw it; wait for the reconnect."""
    process = broker._process
    assert process is not None
    os.kill(process.pid, signal.SIGSTOP)  # the TCP connection stays open; nothing answers
    try:
        stopped_at = time.monotonic()
        while publisher.connected:
            assert time.monotonic() - stopped_at < 5, "the publisher did not notice the silent broker"
            await asyncio.sleep(0.05)
        noticed_after, error = time.monotonic() - stopped_at, publisher.last_error
    finally:
        os.kill(process.pid, signal.SIGCONT)
    await publisher.wait_connected(10)
    return noticed_after, error, publisher.connects


async def test_a_batch_is_acknowledged_at_once_by_a_broker_that_runs_nagle() -> None:
    # Mosquitto's default (no set_tcp_nodelay) holds each PUBACK until the previous one is ACKed;
    # with the kernel's delayed ACKs every batch of two or more messages took 40 ms.
    with ThrowawayMosquitto() as broker:
        async with running(broker.url) as publisher:
            quick = await median_batch_ms(publisher)
        # The same without the publisher's quick ACKs (they go with tcp_nodelay): the wait is back.
        async with running(broker.url, tcp_nodelay="false") as publisher:
            delayed = await median_batch_ms(publisher)

    assert quick < 20, f"a batch of 3 took {quick:.1f} ms (median)"
    assert delayed >= 30, (
        f"without quick ACKs a batch of 3 took {delayed:.1f} ms: is Nagle off on the broker?"
    )


async def median_batch_ms(publisher: EventPublisher) -> float:
    """The median time of 15 batches of three QoS 1 messages, from sending to the last PUBACK."""
    times = []
    for number in range(15):
        messages = [Outgoing(f"nagle/{index}", b"x" * 200, 1) for index in range(3)]
        started = time.perf_counter()
        assert await publisher.publish_many(messages, timeout=10) == []
        times.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.005 * (number % 3))
    return sorted(times)[len(times) // 2]
