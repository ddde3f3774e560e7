"""The plugin's own client as a subscriber, on both codecs: device writes at QoS 0, 1 and 2 reach
the Repository once each and in order, with Titan connected by MQTT 5 (codec5, `mqtt5`) and by
MQTT 3.1.1 (codec311), the devices being an independent client (aiomqtt). Titan subscribes at
QoS 1, so the broker delivers QoS 2 writes at QoS 1; the QoS 2 exchange itself is checked on the
wire, without a broker."""

from __future__ import annotations

import asyncio
from typing import Any

import aiomqtt
import pytest
from titan_plugin_mqtt.client import _Wire
from titan_plugin_mqtt.codec import Message
from titan_plugin_mqtt.codec5 import Mqtt5Codec
from titan_plugin_mqtt.codec311 import Mqtt311Codec
from titan_plugin_mqtt.plugin import PLUGIN

from .mqtt_helpers import SM_ID, MqttAppFactory, Recorder, b64, broker_host_port, submodel


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_device_writes_at_qos_0_1_and_2_are_applied_once_each_in_order(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str, protocol: str
) -> None:
    client = await make_mqtt_app(protocol=protocol)
    plugin = client.app[PLUGIN]
    assert plugin is not None
    response = await client.post("/submodels", json=submodel())
    assert response.status == 201, await response.text()
    # Connected means subscribed: the client reports itself up only after SUBACK.
    await plugin.connection.wait_connected(10)
    assert plugin.connection.subscription_refused == ""
    value_topic = f"{mqtt_topic_prefix}/element/{b64(SM_ID)}/Temperature/value"
    events_topic = f"{mqtt_topic_prefix}/element/{b64(SM_ID)}/Temperature/events"
    host, port = broker_host_port(mqtt_url)
    version = aiomqtt.ProtocolVersion.V5 if protocol == "5" else aiomqtt.ProtocolVersion.V311

    async with Recorder(mqtt_url, [events_topic]) as recorder:
        async with aiomqtt.Client(host, port, protocol=version) as device:
            await device.publish(value_topic, b"1.5", qos=2)
            await device.publish(value_topic, b"2.5", qos=1)
            await device.publish(value_topic, b"3.5", qos=2)
            # The barrier: writes from one connection are applied in order, so once its event is
            # here, a second copy of any earlier write would have produced an event before it.
            await device.publish(value_topic, b"4.5", qos=0)
        await recorder.wait_for(
            lambda _: any(m.envelope()["data"] == 4.5 for m in recorder.events()), what="the barrier's event"
        )

    assert [m.envelope()["data"] for m in recorder.events()] == [1.5, 2.5, 3.5, 4.5]
    assert plugin.stats.writes_applied == 4
    assert plugin.connection.connects == 1  # no protocol error dropped the connection


class _Transport(asyncio.Transport):
    """Keeps what the client writes."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []

    def write(self, data: Any) -> None:
        self.written.append(bytes(data))


@pytest.mark.parametrize("codec", [Mqtt5Codec(), Mqtt311Codec()], ids=["5", "3.1.1"])
async def test_a_qos_2_message_sent_again_before_pubrel_is_delivered_once(codec: Any) -> None:
    delivered: list[Message] = []
    wire = _Wire(codec, delivered.append)
    transport = _Transport()
    wire.connection_made(transport)
    publish = codec.publish("a/b", b"1", 2, False, 7, None)
    again = bytes((publish[0] | 0x08,)) + publish[1:]  # DUP set: the broker got no PUBREC in time

    wire.data_received(publish + again)
    wire.data_received(codec.acknowledge(6, 7))  # PUBREL
    wire.data_received(codec.publish("a/b", b"2", 2, False, 7, None))  # the id is free again

    assert [m.payload for m in delivered] == [b"1", b"2"]
    pubrec, pubcomp = codec.acknowledge(5, 7), codec.acknowledge(7, 7)
    assert transport.written == [pubrec, pubrec, pubcomp, pubrec]
    assert not wire.closed.done()
