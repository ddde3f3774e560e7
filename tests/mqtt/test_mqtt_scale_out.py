"""Two Titan instances of one deployment (one database, the Redis bus, one broker): each event is
published on MQTT once, not once per instance, and each device write is applied by one instance
(MQTT 5 shared subscription `$share/titan/...`)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import paho.mqtt.publish as paho_publish
from titan_plugin_mqtt.plugin import PLUGIN

from .mqtt_helpers import SM_ID, MqttAppFactory, Recorder, b64, broker_host_port, prop, submodel


async def test_two_instances_publish_each_event_once_and_share_the_device_writes(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str, redis_url: str, redis_prefix: str
) -> None:
    deployment = {"bus": redis_url, "bus_prefix": redis_prefix}
    first = await make_mqtt_app(core=deployment)
    second = await make_mqtt_app(core=deployment)
    names = [f"P{index}" for index in range(4)]
    host, port = broker_host_port(mqtt_url)

    async with Recorder(mqtt_url, [f"{mqtt_topic_prefix}/#"]) as recorder:
        elements = [prop(name, "0", value_type="xs:int") for name in names]
        response = await first.post("/submodels", json=submodel(elements=elements))
        assert response.status == 201
        writes = [
            {
                "topic": f"{mqtt_topic_prefix}/element/{b64(SM_ID)}/{name}/value",
                "payload": str(value),
                "qos": 1,
            }
            for value in range(1, 11)
            for name in names
        ]
        await asyncio.to_thread(paho_publish.multiple, writes, hostname=host, port=port)
        await recorder.wait_for(lambda _: len(recorder.events()) >= 41, timeout=20, what="41 events")
        await asyncio.sleep(1.0)  # a second publication of any event would arrive by now

    ids = Counter(json.loads(message.payload)["id"] for message in recorder.events())
    assert len(ids) == 41 and set(ids.values()) == {1}, "an event was published more than once"
    applied = [app.app[PLUGIN].stats.writes_applied for app in (first, second)]  # type: ignore[union-attr]
    assert sum(applied) == 40
    assert min(applied) > 0, f"one instance took every write: {applied}"
    assert not [m for m in recorder.messages if m.topic.endswith("/error")]
