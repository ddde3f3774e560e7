"""Per-device identity on write-back (issue 13): a gateway listed in `mqtt.devices` writes on
`titan/device/<its user name>/…`, which the documented ACL lets only that broker user publish to;
Titan applies its writes as the gateway's own principal (roles, scopes), and the events name it in
`titansubject`. Against a Mosquitto with the ACL of docs/mqtt.md."""

from __future__ import annotations

import json

from .mqtt_brokers import acl_mosquitto, password_of
from .mqtt_helpers import MqttAppFactory, Recorder, b64, prop, publish_v5, speed_of, submodel

LINE1 = "https://example.com/ids/sm/line1/press"
PRESS = "https://example.com/ids/sm/press-7"
GATEWAY = "line1-gateway"


async def test_a_gateway_writes_as_its_own_principal_and_only_within_its_scopes(
    make_mqtt_app: MqttAppFactory,
) -> None:
    with acl_mosquitto(["titan", "press-7", GATEWAY, "dashboard"]) as url:
        client = await make_mqtt_app(
            url, prefix="titan", username="titan", password=password_of("titan"),
            devices=[f"{GATEWAY};role=writer;scope=https://example.com/ids/sm/line1/*"],
            core={"events_include_subject": True},
        )  # fmt: skip
        for submodel_id in (LINE1, PRESS):
            elements = [prop("Speed", "1", value_type="xs:int")]
            assert (await client.post("/submodels", json=submodel(submodel_id, elements))).status == 201
        gateway = {"username": GATEWAY, "password": password_of(GATEWAY)}
        own_level = f"titan/device/{GATEWAY}/element"
        dashboard_login = {"username": "dashboard", "password": password_of("dashboard")}

        async with (
            Recorder(url, ["titan/element/+/+/events"], **dashboard_login) as dashboard,
            Recorder(url, [f"{own_level}/+/+/value/error"], **gateway) as answers,
        ):
            # Outside its scopes: the broker lets it through (its own level), Titan refuses it.
            await publish_v5(url, f"{own_level}/{b64(PRESS)}/Speed/value", b"66", **gateway)
            # Posing as another device, or as the shared MQTT principal: the broker drops both.
            await publish_v5(url, f"titan/device/press-7/element/{b64(PRESS)}/Speed/value", b"67", **gateway)
            await publish_v5(url, f"titan/element/{b64(PRESS)}/Speed/value", b"68", **gateway)
            # Its own submodel: applied. Titan takes writes in arrival order, so once this one's
            # event is out, the three before it have been dealt with.
            await publish_v5(url, f"{own_level}/{b64(LINE1)}/Speed/value", b"5", **gateway)
            line1_events = f"titan/element/{b64(LINE1)}/Speed/events"
            await dashboard.wait_for(lambda _: bool(dashboard.on(line1_events)), what="the gateway's event")
            await answers.wait_for(
                lambda messages: bool(messages), what="the refusal of the out-of-scope write"
            )

        assert (await speed_of(client, LINE1), await speed_of(client, PRESS)) == (5, 1)
        (event,) = dashboard.on(line1_events)
        envelope = event.envelope()
        assert (envelope["titanorigin"], envelope["titansubject"], envelope["data"]) == ("mqtt", GATEWAY, 5)
        (refusal,) = answers.messages
        assert refusal.topic == f"{own_level}/{b64(PRESS)}/Speed/value/error"
        assert json.loads(refusal.payload)["code"] == "forbidden"


async def test_a_write_on_the_shared_topic_names_the_mqtt_principal_and_an_unknown_device_is_refused(
    make_mqtt_app: MqttAppFactory,
) -> None:
    with acl_mosquitto(["titan", "press-7", "dashboard"]) as url:
        client = await make_mqtt_app(
            url, prefix="titan", username="titan", password=password_of("titan"), principal="plant-mqtt",
            devices=[f"{GATEWAY};role=writer"], core={"events_include_subject": True},
        )  # fmt: skip
        elements = [prop("Speed", "1", value_type="xs:int")]
        assert (await client.post("/submodels", json=submodel(PRESS, elements))).status == 201
        device = {"username": "press-7", "password": password_of("press-7")}
        dashboard_login = {"username": "dashboard", "password": password_of("dashboard")}
        unknown_level = f"titan/device/press-7/element/{b64(PRESS)}/Speed/value"

        async with (
            Recorder(url, ["titan/element/+/+/events"], **dashboard_login) as dashboard,
            Recorder(url, [f"{unknown_level}/error"], **device) as answers,
        ):
            # press-7 may publish under its own device level (the ACL pattern), but is no device of Titan.
            await publish_v5(url, unknown_level, b"9", **device)
            await publish_v5(url, f"titan/element/{b64(PRESS)}/Speed/value", b"7", **device)
            await dashboard.wait_for(lambda messages: bool(messages), what="the shared-topic write's event")
            await answers.wait_for(lambda messages: bool(messages), what="the unknown device's refusal")

        (event,) = dashboard.messages
        assert (event.envelope()["titansubject"], event.envelope()["data"]) == ("plant-mqtt", 7)
        assert json.loads(answers.messages[0].payload)["code"] == "unknown_device"
        assert await speed_of(client, PRESS) == 7
