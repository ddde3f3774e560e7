"""The Mosquitto ACL of docs/mqtt.md, run as written: Titan (user `titan`) publishes and takes writes
through its shared subscription; the device `press-7` may write its own submodel's values and is
stopped by the broker when it writes another's. Also `mosquitto_rr`, as the walkthrough uses it."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import paho.mqtt.publish as paho_publish

from .mqtt_brokers import acl_mosquitto, documented_acl, password_of
from .mqtt_helpers import MqttAppFactory, Recorder, b64, broker_host_port, prop, speed_of, submodel

PRESS = "https://example.com/ids/sm/press-7"
OTHER = "https://example.com/ids/sm/other"


async def test_the_documented_acl_lets_a_device_write_only_its_own_values(
    make_mqtt_app: MqttAppFactory, tmp_path: Path
) -> None:
    acl = documented_acl()
    assert b64(PRESS) in acl
    with acl_mosquitto(["titan", "press-7"]) as url:
        client = await make_mqtt_app(url, prefix="titan", username="titan", password=password_of("titan"))
        for submodel_id in (PRESS, OTHER):
            elements = [prop("Speed", "1", value_type="xs:int")]
            assert (await client.post("/submodels", json=submodel(submodel_id, elements))).status == 201

        host, port = broker_host_port(url)
        auth = {"username": "press-7", "password": password_of("press-7")}
        async with Recorder(url, [f"titan/element/{b64(PRESS)}/+/events"], **auth) as own_events:
            for submodel_id, value in ((OTHER, b"66"), (PRESS, b"7")):
                topic = f"titan/element/{b64(submodel_id)}/Speed/value"
                await asyncio.to_thread(
                    paho_publish.single, topic, value, qos=1, hostname=host, port=port, auth=auth
                )
            # The barrier: the broker hands Titan the two writes in the order they were published,
            # and Titan applies writes in arrival order, so once the later write to PRESS is out as
            # an event, the earlier one to OTHER would be stored too, had the broker let it pass.
            await own_events.wait_for(lambda messages: bool(messages), what="press-7's own valueChanged")

        assert (await speed_of(client, PRESS), await speed_of(client, OTHER)) == (7, 1)
        assert json.loads(own_events.messages[0].payload)["data"] == 7


async def test_mosquitto_rr_gets_the_outcome_of_its_write(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str
) -> None:
    client = await make_mqtt_app()
    elements = [prop("Speed", "1", value_type="xs:int")]
    assert (await client.post("/submodels", json=submodel(PRESS, elements))).status == 201
    host, port = broker_host_port(mqtt_url)
    topic = f"{mqtt_topic_prefix}/element/{b64(PRESS)}/Speed/value"

    answer = await asyncio.to_thread(
        subprocess.run,
        ["mosquitto_rr", "-h", host, "-p", str(port), "-t", topic, "-e", f"{mqtt_topic_prefix}/reply/rr", "-m", "24",
         "-W", "10"],
        capture_output=True, text=True, timeout=20, check=False,
    )  # fmt: skip

    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout) == {
        "code": "ok", "message": "the value was applied", "topic": topic, "received": "24"
    }  # fmt: skip
    assert await speed_of(client, PRESS) == 24
