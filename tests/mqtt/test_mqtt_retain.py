"""Retained element events (setting retain_elements): a late subscriber gets the last-known-good value
at once, and a delete of the element or of its submodel clears every retained message it made stale.

On a throwaway Mosquitto: retained messages on the shared broker would outlive the test.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import paho.mqtt.publish as paho_publish

from tests.support.app import AppClient
from tests.support.mosquitto import ThrowawayMosquitto

from .mqtt_helpers import SM_ID, MqttAppFactory, Recorder, b64, broker_host_port, prop, submodel

PREFIX = "retain-test"


async def call(client: AppClient, method: str, url: str, expected: int, **kwargs: Any) -> None:
    response = await client.request(method, url, **kwargs)
    assert response.status == expected, f"{method} {url}: {response.status} {await response.text()}"


def element_topic(path: str) -> str:
    return f"{PREFIX}/element/{b64(SM_ID)}/{path}/events"


async def retained_now(broker: ThrowawayMosquitto) -> dict[str, Any]:
    """What a subscriber that connects now gets at once: {topic: data of the retained envelope}."""
    async with Recorder(broker.url, [f"{PREFIX}/#"]) as late:
        # The broker queues the retained messages for the subscriber when it subscribes; a message
        # published after that reaches it after them all, so it is the end marker (no settling time).
        barrier = f"{PREFIX}/test-barrier/{secrets.token_hex(4)}"
        host, port = broker_host_port(broker.url)
        await asyncio.to_thread(paho_publish.single, barrier, b"end", qos=1, hostname=host, port=port)
        await late.wait_for(lambda messages: any(m.topic == barrier for m in messages), what="the end marker")
    retained = [message for message in late.messages if message.topic != barrier]
    assert all(message.retain for message in retained)
    return {message.topic: message.envelope()["data"] for message in retained}


async def write_values(client: AppClient, live: Recorder, values: dict[str, Any]) -> None:
    """Write each value and wait until its own event has arrived (not merely as many events: the
    `created` of the submodel may arrive late and stand in for one, and then a value event still on
    its way would reach the late subscriber of `retained_now` as a live message)."""
    elements = f"/submodels/{b64(SM_ID)}/submodel-elements"
    seen = len(live.messages)
    for path, value in values.items():
        await call(client, "PATCH", f"{elements}/{path}/$value", 204, json=value)

    def arrived(messages: list[Any]) -> bool:
        got = [(m.topic, m.envelope()["data"]) for m in messages[seen:] if m.payload]
        return all((element_topic(path), value) in got for path, value in values.items())

    await live.wait_for(arrived, what=f"the value events of {sorted(values)}")


async def test_a_late_subscriber_gets_the_last_value_of_each_element_retained(
    make_mqtt_app: MqttAppFactory, throwaway_mosquitto: ThrowawayMosquitto
) -> None:
    client = await make_mqtt_app(throwaway_mosquitto.url, prefix=PREFIX, retain_elements=True)
    async with Recorder(throwaway_mosquitto.url, [f"{PREFIX}/#"]) as live:
        await call(client, "POST", "/submodels", 201, json=submodel())
        await write_values(client, live, {"Temperature": 21.5, "Series[1]": 8})
        await write_values(client, live, {"Temperature": 22.5})

    retained = await retained_now(throwaway_mosquitto)

    # Only element events are retained: the submodel's `created` is not.
    assert retained == {element_topic("Temperature"): 22.5, element_topic("Series[1]"): 8}


async def test_without_retain_elements_nothing_is_retained(
    make_mqtt_app: MqttAppFactory, throwaway_mosquitto: ThrowawayMosquitto
) -> None:
    client = await make_mqtt_app(throwaway_mosquitto.url, prefix=PREFIX)
    async with Recorder(throwaway_mosquitto.url, [f"{PREFIX}/#"]) as live:
        await call(client, "POST", "/submodels", 201, json=submodel())
        await write_values(client, live, {"Temperature": 21.5})
        assert not any(message.retain for message in live.messages)

    assert await retained_now(throwaway_mosquitto) == {}


async def test_deleting_an_element_clears_its_retained_value_and_those_below_it(
    make_mqtt_app: MqttAppFactory, throwaway_mosquitto: ThrowawayMosquitto
) -> None:
    client = await make_mqtt_app(throwaway_mosquitto.url, prefix=PREFIX, retain_elements=True)
    elements = f"/submodels/{b64(SM_ID)}/submodel-elements"
    async with Recorder(throwaway_mosquitto.url, [f"{PREFIX}/#"]) as live:
        await call(client, "POST", "/submodels", 201, json=submodel())
        await write_values(client, live, {"Temperature": 21.5, "Box.Inner": 2, "Speed": 5})
        await call(client, "DELETE", f"{elements}/Box", 204)
        await call(client, "DELETE", f"{elements}/Temperature", 204)
        # Current subscribers see each clear as a zero-length message (they ignore it).
        await live.wait_for(
            lambda messages: (
                {m.topic for m in messages if not m.payload}
                == {element_topic("Box"), element_topic("Box.Inner"), element_topic("Temperature")}
            ),
            what="the zero-length clears",
        )

    assert await retained_now(throwaway_mosquitto) == {element_topic("Speed"): 5}


async def test_deleting_a_submodel_clears_the_retained_value_of_every_element_it_had(
    make_mqtt_app: MqttAppFactory, throwaway_mosquitto: ThrowawayMosquitto
) -> None:
    client = await make_mqtt_app(throwaway_mosquitto.url, prefix=PREFIX, retain_elements=True)
    other = "https://example.com/ids/sm/mqtt-other"
    async with Recorder(throwaway_mosquitto.url, [f"{PREFIX}/#"]) as live:
        await call(client, "POST", "/submodels", 201, json=submodel())
        await call(client, "POST", "/submodels", 201, json=submodel(other, [prop("Temperature", "1")]))
        await write_values(client, live, {"Temperature": 21.5, "Box.Inner": 2, "Series[0]": 3})
        await call(
            client, "PATCH", f"/submodels/{b64(other)}/submodel-elements/Temperature/$value", 204, json=9
        )
        await call(client, "DELETE", f"/submodels/{b64(SM_ID)}", 204)
        # The clears follow the submodel's `deleted` event, one per element, in document order.
        await live.wait_for(
            lambda messages: any(m.topic == element_topic("Start") and not m.payload for m in messages),
            what="the clear of the submodel's last element",
        )
        cleared = [m.topic for m in live.messages if not m.payload]
        assert cleared == [element_topic(path) for path in (
            "Temperature", "Speed", "Mode", "Box", "Box.Inner", "Series", "Series[0]", "Series[1]", "Start",
        )]  # fmt: skip

    other_topic = f"{PREFIX}/element/{b64(other)}/Temperature/events"
    assert await retained_now(throwaway_mosquitto) == {other_topic: 9}
