"""The plugins' metrics on `GET /metrics`: WebSocket connections (titan-plugin-ws) and the MQTT
connection state (titan-plugin-mqtt), moving as the tests connect and subscribe; and the example
Grafana dashboard in docs/ asks only for metrics that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import titan_plugin_mqtt.plugin
import titan_plugin_ws.plugin

from tests.support.services import free_port
from titan_core.settings import Settings
from titan_core.testing import TitanClients

from .scrape import scrape, scrape_until

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"


async def test_a_connected_websocket_and_its_subscription_show_and_go(
    make_titan_client: TitanClients,
) -> None:
    client = await make_titan_client(plugins=[titan_plugin_ws.plugin])
    assert (await scrape(client)).value("titan_ws_connections") == 0
    socket = await client.ws_connect("/ws/events")
    assert (await socket.receive_json())["type"] == "welcome"
    await socket.send_json({"type": "subscribe", "id": "s1"})
    assert (await socket.receive_json())["type"] == "subscribed"
    connected = await scrape(client)
    assert connected.value("titan_ws_connections") == 1
    assert connected.value("titan_ws_subscriptions") == 1
    assert connected.value("titan_ws_queued_frames") == 0
    assert connected.value("titan_ws_accepted_connections_total") == 1
    assert connected.value("titan_sink_owner", sink="ws", fanout="each_instance") == 1
    await socket.close()
    await scrape_until(client, lambda s: s.value("titan_ws_connections") == 0, "the closed connection to go")


async def test_the_mqtt_connection_state_shows_up_and_down(
    make_titan_client: TitanClients, settings: Settings, mqtt_url: str, mqtt_topic_prefix: str
) -> None:
    section = {"url": mqtt_url, "prefix": mqtt_topic_prefix, "reconnect_min": 0.1, "reconnect_max": 1.0}
    up = await make_titan_client(
        settings.replace(extra={"mqtt": section}), plugins=[titan_plugin_mqtt.plugin]
    )
    found = await scrape_until(
        up,
        lambda s: (
            s.value("titan_mqtt_connected", link="events") == 1
            and s.value("titan_mqtt_connected", link="writeback") == 1
        ),
        "both MQTT connections up",
    )
    assert found.value("titan_mqtt_in_flight_messages") == 0
    assert found.value("titan_mqtt_connects_total", link="events") == 1
    nobody = {**section, "url": f"mqtt://127.0.0.1:{free_port()}"}  # no broker listens there
    down = await make_titan_client(
        settings.replace(extra={"mqtt": nobody}), plugins=[titan_plugin_mqtt.plugin]
    )
    missing = await scrape(down)
    assert missing.value("titan_mqtt_connected", link="events") == 0
    assert missing.value("titan_mqtt_connects_total", link="events") == 0


def dashboard_metric_names() -> set[str]:
    """Every `titan_…` metric a panel of the example dashboard queries."""
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    assert expressions, "the dashboard has no queries"
    return {name for expression in expressions for name in re.findall(r"\btitan_[a-z_]+", expression)}


async def test_every_metric_the_example_dashboard_queries_exists(
    make_titan_client: TitanClients, settings: Settings, mqtt_url: str, mqtt_topic_prefix: str
) -> None:
    section = {"url": mqtt_url, "prefix": mqtt_topic_prefix}
    client = await make_titan_client(
        settings.replace(extra={"mqtt": section}), plugins=[titan_plugin_ws.plugin, titan_plugin_mqtt.plugin]
    )
    assert (await client.get("/shells")).status == 200
    exposed = (await scrape(client)).names()
    missing = sorted(name for name in dashboard_metric_names() if name not in exposed)
    assert not missing, f"docs/grafana-dashboard.json queries metrics /metrics does not have: {missing}"
