"""Issue 13, M1: Titan answers a write only on a response topic under the reply prefix. Against a
Mosquitto with each documented ACL (docs/mqtt.md's "ACL file", whose device is `press-7`, and
docs/security.md's "Mosquitto ACL", whose gateway is `line1-gateway`): the device, allowed to write
only its own submodel's values, names another twin's event topic as its MQTT 5 response topic;
Titan used to publish its answer there with its own login, and a dashboard received it."""

from __future__ import annotations

import json
import logging

import pytest

from .mqtt_brokers import acl_mosquitto, password_of, security_acl
from .mqtt_helpers import (
    MqttAppFactory,
    Recorder,
    assert_cloudevent,
    b64,
    prop,
    publish_v5,
    speed_of,
    submodel,
)

PRESS = "https://example.com/ids/sm/press-7"
OTHER = "https://example.com/ids/sm/other"


@pytest.mark.parametrize("documented_in", ["mqtt.md", "security.md"])
async def test_a_device_cannot_make_titan_answer_onto_another_twins_event_topic(
    make_mqtt_app: MqttAppFactory, caplog: pytest.LogCaptureFixture, documented_in: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="titan_plugin_mqtt.writeback")
    # Each page's ACL names its own device; both let it write only PRESS's value topics.
    name, acl = (
        ("press-7", None) if documented_in == "mqtt.md" else ("line1-gateway", security_acl(b64(PRESS)))
    )
    with acl_mosquitto(["titan", name, "dashboard"], acl) as url:
        client = await make_mqtt_app(url, prefix="titan", username="titan", password=password_of("titan"))
        for submodel_id in (PRESS, OTHER):
            elements = [prop("Speed", "1", value_type="xs:int")]
            assert (await client.post("/submodels", json=submodel(submodel_id, elements))).status == 201
        own_value = f"titan/element/{b64(PRESS)}/Speed/value"
        forged_target = f"titan/submodel/{b64(OTHER)}/events"
        barrier_reply = f"titan/reply/{name}/barrier"
        device = {"username": name, "password": password_of(name)}
        dashboard_login = {"username": "dashboard", "password": password_of("dashboard")}

        async with (
            Recorder(url, ["titan/+/+/events", "titan/element/+/+/events"], **dashboard_login) as dashboard,
            Recorder(url, [f"titan/reply/{name}/#", f"{own_value}/error"], **device) as press,
        ):
            await publish_v5(
                url, own_value, b"7", ResponseTopic=forged_target, CorrelationData=b"forged", **device
            )
            await publish_v5(
                url, own_value, b"8", ResponseTopic=barrier_reply, CorrelationData=b"barrier", **device
            )
            # Titan takes writes in arrival order and answers them in that order on one connection:
            # once the second answer is here, any answer to the first has reached the broker.
            await press.wait_for(
                lambda _: bool(press.on(barrier_reply)), what="the answer to the second write"
            )
            # An event caused only now reaches the dashboard after everything queued for it before.
            patch = await client.patch(f"/submodels/{b64(OTHER)}/submodel-elements/Speed/$value", json=5)
            assert patch.status == 204, await patch.text()
            other_events = f"titan/element/{b64(OTHER)}/Speed/events"
            await dashboard.wait_for(lambda _: bool(dashboard.on(other_events)), what="the barrier event")

        # Only Titan's own events may be there: the submodel's `created` can arrive after the
        # dashboard subscribed when the machine is loaded; an answer to the device cannot.
        answers = [m for m in dashboard.on(forged_target) if "specversion" not in json.loads(m.payload)]
        assert answers == [], "Titan published a device-chosen message on an event topic"
        for message in dashboard.messages:
            assert_cloudevent(message.payload)  # only Titan's own events, nothing else
        (refusal,) = press.on(f"{own_value}/error")
        assert json.loads(refusal.payload)["code"] == "bad_response_topic"
        assert json.loads(press.on(barrier_reply)[0].payload)["code"] == "ok"
        assert await speed_of(client, PRESS) == 8  # the refused write changed nothing
        logged = [r.getMessage() for r in caplog.records if "bad_response_topic" in r.getMessage()]
        assert logged and all("\n" not in line for line in logged)
