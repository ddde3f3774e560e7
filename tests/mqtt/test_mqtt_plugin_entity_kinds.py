"""Events of a kind a plugin owns (`titan_entity_kinds`) reach every transport: the WebSocket (with
an `entity_types` filter naming the kind) and MQTT (on `{prefix}/{kind}/{b64 id}/events`, and the
async-aas channel in the spec's style), with `titanentity` the plugin's kind; BaSyx has no form for
them and gets nothing."""

from __future__ import annotations

import json

import titan_plugin_mqtt.plugin
import titan_plugin_ws.plugin
from aiohttp.test_utils import TestClient, TestServer

from tests.plugins.service_plugin import KIND, ServicePlugin
from tests.support.app import AppClient
from tests.support.twins import b64, shell
from titan_core.app import create_app
from titan_core.settings import Settings
from titan_core.testing import plugin_manager_with

from .mqtt_helpers import Recorder, receive_ws

SHELL_ID = "https://example.com/kinds/shell/1"


async def test_plugin_kind_events_reach_websocket_and_mqtt(
    settings: Settings, mqtt_url: str, mqtt_topic_prefix: str
) -> None:
    manager = plugin_manager_with(
        settings, [titan_plugin_mqtt.plugin, titan_plugin_ws.plugin, ("svcplug", ServicePlugin())]
    )
    section = {
        "url": mqtt_url,
        "prefix": mqtt_topic_prefix,
        "profiles": ["titan", "async-aas", "basyx"],
        "async_aas_topic": f"{mqtt_topic_prefix}-aa/{{channel}}",
        "basyx_aas_repo": "kinds-repo",
    }
    custom = settings.replace(relay_poll_ms=50, extra={"mqtt": section})
    client: AppClient = TestClient(TestServer(create_app(custom, plugin_manager=manager)))
    await client.start_server()
    topics = [f"{mqtt_topic_prefix}/#", f"{mqtt_topic_prefix}-aa/#", "aas-repository/kinds-repo/#"]
    try:
        async with Recorder(mqtt_url, topics) as recorder:
            ws = await client.ws_connect("/ws/events")
            await receive_ws(ws, "welcome")
            await ws.send_json({"type": "subscribe", "id": "s1", "filter": {"entity_types": [KIND.name]}})
            await receive_ws(ws, "subscribed")

            assert (await client.post("/shells", json=shell(SHELL_ID))).status == 201

            on_websocket = (await receive_ws(ws, "event"))["event"]
            kind_topic = f"{mqtt_topic_prefix}/{KIND.name}/{b64(SHELL_ID)}/events"
            (on_mqtt,) = await recorder.wait_count(1, topic_filter=lambda m: m.topic == kind_topic)
            (async_aas,) = await recorder.wait_count(
                1, topic_filter=lambda m: m.topic == f"{mqtt_topic_prefix}-aa/svcdescriptor/created"
            )
            # A second shell's BaSyx message is the barrier: it is published after every message of
            # the first write's events, so a BaSyx message for the kind's event would be there by now.
            assert (await client.post("/shells", json=shell(SHELL_ID + "/2"))).status == 201
            await recorder.wait_count(
                2, topic_filter=lambda m: m.topic == "aas-repository/kinds-repo/shells/created"
            )
            await ws.close()
    finally:
        await client.close()

    assert on_websocket["titanentity"] == KIND.name
    assert on_websocket == on_mqtt.envelope()  # the same event on both transports
    assert json.loads(async_aas.payload)["source"].endswith("/svc-descriptors/" + b64(SHELL_ID))
    basyx_topics = [m.topic for m in recorder.messages if m.topic.startswith("aas-repository/")]
    assert basyx_topics == ["aas-repository/kinds-repo/shells/created"] * 2
