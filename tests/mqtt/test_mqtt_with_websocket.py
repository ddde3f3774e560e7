"""Where the WebSocket plugin is installed too, a device's MQTT value write reaches browsers: the
`valueChanged` it causes goes out on `/ws/events` as well as on MQTT, with origin `mqtt`."""

from __future__ import annotations

import asyncio

import paho.mqtt.publish as paho_publish
import titan_plugin_mqtt.plugin
import titan_plugin_ws.plugin
from aiohttp.test_utils import TestClient, TestServer

from tests.support.app import AppClient
from titan_core.app import create_app
from titan_core.plugins import get_plugin_manager
from titan_core.settings import Settings

from .mqtt_helpers import SM_ID, Recorder, b64, broker_host_port, receive_ws, submodel


async def test_an_mqtt_value_write_reaches_mqtt_and_websocket_subscribers(
    settings: Settings, mqtt_url: str, mqtt_topic_prefix: str
) -> None:
    manager = get_plugin_manager(settings, load_entry_points=False)
    manager.add_plugin(titan_plugin_mqtt.plugin, "mqtt")
    manager.add_plugin(titan_plugin_ws.plugin, "ws")
    custom = settings.replace(
        relay_poll_ms=50, extra={"mqtt": {"url": mqtt_url, "prefix": mqtt_topic_prefix}}
    )
    client: AppClient = TestClient(TestServer(create_app(custom, plugin_manager=manager)))
    await client.start_server()
    try:
        response = await client.post("/submodels", json=submodel())
        assert response.status == 201
        async with Recorder(mqtt_url, [f"{mqtt_topic_prefix}/element/#"]) as recorder:
            ws = await client.ws_connect("/ws/events")
            await receive_ws(ws, "welcome")
            await ws.send_json({"type": "subscribe", "id": "s1", "filter": {"types": ["valueChanged"]}})
            await receive_ws(ws, "subscribed")

            host, port = broker_host_port(mqtt_url)
            topic = f"{mqtt_topic_prefix}/element/{b64(SM_ID)}/Temperature/value"
            await asyncio.to_thread(paho_publish.single, topic, b"31.5", qos=1, hostname=host, port=port)

            on_websocket = (await receive_ws(ws, "event"))["event"]
            (on_mqtt,) = await recorder.wait_count(1, topic_filter=lambda m: m.topic.endswith("/events"))
            await ws.close()
    finally:
        await client.close()

    assert on_websocket == on_mqtt.envelope()  # the same event, the same id, on both transports
    assert (on_websocket["titanorigin"], on_websocket["titanpath"], on_websocket["data"]) == (
        "mqtt", "Temperature", 31.5
    )  # fmt: skip
