"""Value write-back from devices: a value published by a plain MQTT client changes the element and
goes out as `valueChanged` with origin `mqtt`; every kind of bad write changes nothing and is
answered on `…/value/error`; MQTT 5 response topics get the outcome."""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import Any

import aiomqtt
import paho.mqtt.publish as paho_publish
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from titan_plugin_mqtt.plugin import PLUGIN

from tests.support.app import AppClient
from titan_core.keys import REPOSITORY

from .mqtt_helpers import SM_ID, MqttAppFactory, Recorder, b64, broker_host_port, mqtt_barrier, submodel

ELEMENTS = f"/submodels/{b64(SM_ID)}/submodel-elements"


async def call(client: AppClient, method: str, url: str, expected: int, **kwargs: Any) -> Any:
    response = await client.request(method, url, **kwargs)
    text = await response.text()
    assert response.status == expected, f"{method} {url}: {response.status} {text}"
    return json.loads(text) if text else None


def value_topic(prefix: str, path: str, submodel_id: str = SM_ID) -> str:
    return f"{prefix}/element/{b64(submodel_id)}/{path}/value"


async def publish_plain(url: str, topic: str, payload: bytes, **properties: Any) -> None:
    """One publish as a device would make it: paho-mqtt's one-shot helper (MQTT 3.1.1), or, for
    MQTT 5 properties (which that helper cannot send), a separate aiomqtt client."""
    host, port = broker_host_port(url)
    if not properties:
        await asyncio.to_thread(paho_publish.single, topic, payload, qos=1, hostname=host, port=port)
        return
    publish_properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    for name, value in properties.items():
        setattr(publish_properties, name, value)
    async with aiomqtt.Client(host, port, protocol=aiomqtt.ProtocolVersion.V5) as device:
        await device.publish(topic, payload, qos=1, properties=publish_properties)


async def create_submodel(client: AppClient, recorder: Recorder) -> int:
    """POST the test submodel and wait for its `created` on MQTT; returns the events so far."""
    await call(client, "POST", "/submodels", 201, json=submodel())
    await recorder.wait_for(lambda messages: len(recorder.events()) >= 1, what="the submodel's created event")
    return len(recorder.events())


async def stored_submodel(client: AppClient) -> tuple[Any, str]:
    response = await client.get(f"/submodels/{b64(SM_ID)}")
    assert response.status == 200
    return await response.json(), response.headers["ETag"]


async def test_a_value_from_mosquitto_pub_changes_the_element_and_is_published_as_value_changed(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str
) -> None:
    client = await make_mqtt_app()
    await call(client, "POST", "/submodels", 201, json=submodel())
    host, port = broker_host_port(mqtt_url)
    events_topic = f"{mqtt_topic_prefix}/element/{b64(SM_ID)}/Temperature/events"

    async with Recorder(mqtt_url, [events_topic]) as recorder:
        subprocess.run(
            ["mosquitto_pub", "-h", host, "-p", str(port), "-q", "1",
             "-t", value_topic(mqtt_topic_prefix, "Temperature"), "-m", "23.5"],
            check=True, timeout=10,
        )  # fmt: skip
        (message,) = await recorder.wait_count(1, topic_filter=lambda m: True)

    envelope = message.envelope()
    assert (envelope["type"], envelope["titanorigin"], envelope["titanpath"], envelope["data"]) == (
        "io.admin-shell.events.v1.valueChanged", "mqtt", "Temperature", 23.5
    )  # fmt: skip
    # The bare value the device wrote is the event's data and what REST answers for `$value`.
    assert await call(client, "GET", f"{ELEMENTS}/Temperature/$value", 200) == 23.5
    assert client.app[PLUGIN].stats.writes_applied == 1  # type: ignore[union-attr]


async def test_structured_values_and_list_items_are_written_by_their_valueonly_form(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str
) -> None:
    client = await make_mqtt_app()
    await call(client, "POST", "/submodels", 201, json=submodel())
    async with Recorder(mqtt_url, [f"{mqtt_topic_prefix}/element/#"]) as recorder:
        await publish_plain(mqtt_url, value_topic(mqtt_topic_prefix, "Box"), b'{"Inner": 4.25}')
        await publish_plain(mqtt_url, value_topic(mqtt_topic_prefix, "Series[0]"), b'"7"')
        await publish_plain(mqtt_url, value_topic(mqtt_topic_prefix, "Mode"), b'"manual"')
        await recorder.wait_for(lambda messages: len(recorder.events()) >= 3)

    assert sorted((m.envelope()["titanpath"], m.envelope()["data"]) for m in recorder.events()) == [
        ("Box.Inner", 4.25), ("Mode", "manual"), ("Series[0]", 7.0)
    ]  # fmt: skip
    assert await call(client, "GET", f"{ELEMENTS}/Box/$value", 200) == {"Inner": 4.25}
    assert await call(client, "GET", f"{ELEMENTS}/Box.Inner/$value", 200) == 4.25
    assert await call(client, "GET", f"{ELEMENTS}/Series[0]/$value", 200) == 7.0


BAD_WRITES = [
    # (case, topic path (None: an unknown submodel), payload, code)
    ("unknown submodel", None, b"1", "not_found"),
    ("unknown path", "Missing", b"1", "not_found"),
    ("unknown list index", "Series[5]", b"1", "not_found"),
    ("wrong type", "Speed", b'"fast"', "wrong_type"),
    ("number for a string", "Mode", b"3", "wrong_type"),
    ("object for a property", "Temperature", b'{"a": 1}', "wrong_type"),
    ("malformed JSON", "Temperature", b"23,5", "malformed_json"),
    ("NaN is no JSON", "Temperature", b"NaN", "malformed_json"),
    ("not UTF-8", "Temperature", b"\xff\xfe", "malformed_json"),
    ("element without a value", "Start", b"1", "no_value"),
    ("path that is no idShortPath", "Box..Inner", b"1", "bad_topic"),
    ("submodel id that is no base64url", "!", b"1", "bad_topic"),
]


@pytest.mark.parametrize(("path", "payload", "code"), [case[1:] for case in BAD_WRITES],
                         ids=[case[0] for case in BAD_WRITES])  # fmt: skip
async def test_a_bad_write_is_answered_on_the_error_topic_and_changes_nothing(
    make_mqtt_app: MqttAppFactory,
    mqtt_url: str,
    mqtt_topic_prefix: str,
    path: str | None,
    payload: bytes,
    code: str,
) -> None:
    client = await make_mqtt_app()
    if path is None:
        topic = value_topic(mqtt_topic_prefix, "Temperature", "https://example.com/ids/sm/unknown")
    elif path == "!":
        topic = f"{mqtt_topic_prefix}/element/not!base64/Temperature/value"
    else:
        topic = value_topic(mqtt_topic_prefix, path)

    async with Recorder(mqtt_url, [f"{mqtt_topic_prefix}/#"]) as recorder:
        events_before = await create_submodel(client, recorder)
        before = await stored_submodel(client)
        await publish_plain(mqtt_url, topic, payload)
        (answer,) = await recorder.wait_count(1, topic_filter=lambda m: m.topic.endswith("/error"))
        marker = await mqtt_barrier(client, recorder)  # an event of the write would come before it

    body = json.loads(answer.payload)
    assert answer.topic == f"{topic}/error"
    assert set(body) == {"code", "message", "topic", "received"}
    assert (body["code"], body["topic"], body["received"]) == (code, topic, payload.decode(errors="replace"))
    assert body["message"]
    assert recorder.events()[events_before:] == [marker], "a refused write emitted an event"
    assert await stored_submodel(client) == before
    assert client.app[PLUGIN].stats.writes_refused == {code: 1}  # type: ignore[union-attr]


CONFIG_REFUSALS = [
    ("write-back off", {"writeback": False}, "writeback_disabled"),
    ("id outside writeback_ids", {"writeback_ids": "https://example.com/ids/sm/other-*"}, "forbidden"),
    ("principal out of scope", {"principal_scopes": "https://plant.example/*"}, "forbidden"),
    ("principal without writer role", {"principal_roles": "reader"}, "forbidden"),
    ("payload too large", {"writeback_max_bytes": 3}, "payload_too_large"),
]


@pytest.mark.parametrize(("config", "code"), [case[1:] for case in CONFIG_REFUSALS],
                         ids=[case[0] for case in CONFIG_REFUSALS])  # fmt: skip
async def test_writes_refused_by_the_configuration_are_answered_and_change_nothing(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str, config: dict[str, Any], code: str
) -> None:
    client = await make_mqtt_app(**config)
    topic = value_topic(mqtt_topic_prefix, "Temperature")

    async with Recorder(mqtt_url, [f"{mqtt_topic_prefix}/#"]) as recorder:
        events_before = await create_submodel(client, recorder)
        before = await stored_submodel(client)
        await publish_plain(mqtt_url, topic, b"99.5")
        (answer,) = await recorder.wait_count(1, topic_filter=lambda m: m.topic.endswith("/error"))
        marker = await mqtt_barrier(client, recorder)  # an event of the write would come before it

    assert json.loads(answer.payload)["code"] == code
    assert recorder.events()[events_before:] == [marker], "a refused write emitted an event"
    assert await stored_submodel(client) == before


async def test_writes_within_the_allowed_patterns_and_scopes_are_applied(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str
) -> None:
    client = await make_mqtt_app(
        writeback_ids="https://example.com/ids/sm/*", principal_scopes="https://example.com/*"
    )
    await call(client, "POST", "/submodels", 201, json=submodel())
    async with Recorder(mqtt_url, [f"{mqtt_topic_prefix}/element/#"]) as recorder:
        await publish_plain(mqtt_url, value_topic(mqtt_topic_prefix, "Speed"), b"12")
        await recorder.wait_for(lambda messages: len(recorder.events()) == 1)

    assert await call(client, "GET", f"{ELEMENTS}/Speed/$value", 200) == 12


async def test_mqtt5_response_topic_gets_the_outcome_with_the_correlation_data(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str
) -> None:
    client = await make_mqtt_app()
    await call(client, "POST", "/submodels", 201, json=submodel())
    replies = f"{mqtt_topic_prefix}/reply/device-7"

    async with Recorder(mqtt_url, [replies]) as recorder:
        await publish_plain(mqtt_url, value_topic(mqtt_topic_prefix, "Speed"), b"8",
                            ResponseTopic=replies, CorrelationData=b"req-1")  # fmt: skip
        await publish_plain(mqtt_url, value_topic(mqtt_topic_prefix, "Speed"), b'"eight"',
                            ResponseTopic=replies, CorrelationData=b"req-2")  # fmt: skip
        ok, refused = await recorder.wait_count(2, topic_filter=lambda m: True)

    assert (ok.properties.CorrelationData, refused.properties.CorrelationData) == (b"req-1", b"req-2")
    assert json.loads(ok.payload) == {
        "code": "ok", "message": "the value was applied", "topic": value_topic(mqtt_topic_prefix, "Speed"),
        "received": "8",
    }  # fmt: skip
    assert json.loads(refused.payload)["code"] == "wrong_type"
    assert await call(client, "GET", f"{ELEMENTS}/Speed/$value", 200) == 8


async def write_burst(mqtt_url: str, prefix: str, count: int, qos: int) -> list[Any]:
    """A device publishes the values 1..count to Speed as fast as it can; returns the values of the
    valueChanged events Titan published, in arrival order."""
    topic = value_topic(prefix, "Speed")
    host, port = broker_host_port(mqtt_url)
    async with Recorder(mqtt_url, [f"{prefix}/element/#"]) as recorder:
        messages = [{"topic": topic, "payload": str(value), "qos": qos} for value in range(1, count + 1)]
        await asyncio.to_thread(paho_publish.multiple, messages, hostname=host, port=port)
        await recorder.wait_for(lambda _: len(recorder.events()) >= count, timeout=30, what=f"{count} events")
    return [m.envelope()["data"] for m in recorder.events()]


async def test_many_writes_to_one_element_are_applied_in_the_order_they_were_published(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str
) -> None:
    client = await make_mqtt_app()
    await call(client, "POST", "/submodels", 201, json=submodel())
    count = 300

    published = await write_burst(mqtt_url, mqtt_topic_prefix, count, qos=1)

    assert published == list(range(1, count + 1))
    assert await call(client, "GET", f"{ELEMENTS}/Speed/$value", 200) == count


async def test_a_burst_of_device_writes_shares_transactions(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiomqtt hands out one message per turn of the event loop and paho reads one packet per
    wake-up; taken one at a time, each write was a transaction of its own (496 values/s)."""
    client = await make_mqtt_app()
    await call(client, "POST", "/submodels", 201, json=submodel())
    committer = client.app[REPOSITORY]._group_commit
    batches: list[int] = []
    commit = committer._commit

    async def counting(batch: list[Any]) -> None:
        batches.append(len(batch))
        await commit(batch)

    monkeypatch.setattr(committer, "_commit", counting)
    count = 300

    published = await write_burst(mqtt_url, mqtt_topic_prefix, count, qos=0)

    assert sum(batches) == count
    assert len(batches) <= count // 5, f"{len(batches)} transactions for {count} writes: {batches}"
    assert published == list(range(1, count + 1))


async def test_retained_and_empty_messages_on_value_topics_are_not_writes(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str
) -> None:
    topic = value_topic(mqtt_topic_prefix, "Speed")
    elements_topics = f"{mqtt_topic_prefix}/element/"
    host, port = broker_host_port(mqtt_url)
    # A device left a retained write on the broker before Titan (re)connected.
    await asyncio.to_thread(paho_publish.single, topic, b"77", qos=1, retain=True, hostname=host, port=port)
    try:
        client = await make_mqtt_app(shared_group="")  # a plain subscription gets retained messages
        await call(client, "POST", "/submodels", 201, json=submodel())
        async with Recorder(mqtt_url, [f"{mqtt_topic_prefix}/#"]) as recorder:
            await publish_plain(mqtt_url, topic, b"")
            await publish_plain(mqtt_url, topic, b"5")
            await recorder.wait_for(lambda messages: len(recorder.events(under=elements_topics)) >= 1)
            await mqtt_barrier(client, recorder)  # an answer or event of the empty write comes before it
        stats = client.app[PLUGIN].stats  # type: ignore[union-attr]
        counts = (stats.writes_applied, stats.writes_ignored)
    finally:
        await asyncio.to_thread(paho_publish.single, topic, b"", qos=1, retain=True, hostname=host, port=port)

    assert [m.envelope()["data"] for m in recorder.events(under=elements_topics)] == [5]
    assert not [m for m in recorder.messages if m.topic.endswith("/error")]
    assert counts == (1, 2)  # the 5; the retained 77 and the empty payload


async def test_a_write_of_the_stored_value_is_applied_but_emits_no_event(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str
) -> None:
    client = await make_mqtt_app()
    replies = f"{mqtt_topic_prefix}/reply/no-op"
    async with Recorder(mqtt_url, [f"{mqtt_topic_prefix}/#"]) as recorder:
        before = await create_submodel(client, recorder)
        await publish_plain(mqtt_url, value_topic(mqtt_topic_prefix, "Temperature"), b"20.5",
                            ResponseTopic=replies, CorrelationData=b"same")  # fmt: skip
        (reply,) = await recorder.wait_count(1, topic_filter=lambda m: m.topic == replies)
        # The write is done (answered); a REST write after it is the barrier its event would precede.
        await call(client, "PATCH", f"{ELEMENTS}/Speed/$value", 204, json=9)
        await recorder.wait_for(
            lambda messages: len(recorder.events()) >= before + 1, what="the barrier event"
        )

    assert json.loads(reply.payload)["code"] == "ok"
    assert [m.topic.split("/")[-2] for m in recorder.events()[before:]] == ["Speed"]
