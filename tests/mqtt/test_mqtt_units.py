"""The plugin's pure parts without a broker: settings, topic names, what an event becomes on MQTT,
and how a batch retried after a broken connection skips what the broker already acknowledged."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from titan_plugin_mqtt.client import subscription_refusal
from titan_plugin_mqtt.config import MqttConfig, broker_address
from titan_plugin_mqtt.connection import Outgoing, PublishFailed
from titan_plugin_mqtt.publisher import Refused
from titan_plugin_mqtt.sink import MqttSink, MqttStats
from titan_plugin_mqtt.topics import event_topic, parse_value_topic, retained_topics_cleared_by

from titan_core.delivery.sink import Event
from titan_core.errors import BadRequest
from titan_core.model.identifiers import encode_identifier
from titan_core.settings import SettingsError

SM = "https://example.com/ids/sm/1#a+b"


def test_settings_from_the_environment_are_parsed_and_checked() -> None:
    config = MqttConfig.from_section({
        "url": "mqtts://device:p%40ss@broker.example", "protocol": "3.1.1", "qos": "0", "qos_element": "2",
        "retain_elements": "yes", "writeback_ids": "urn:a:*, urn:b:*", "reconnect_max": "5",
    })  # fmt: skip

    assert (config.protocol, config.qos_for("shell"), config.qos_for("element")) == ("3.1.1", 0, 2)
    assert config.retain_elements and config.writeback_ids == ("urn:a:*", "urn:b:*")
    assert config.tls and config.reconnect_max == 5.0
    assert config.value_subscription == "$share/titan/titan/element/+/+/value"
    assert MqttConfig(url="mqtt://h", shared_group="").value_subscription == "titan/element/+/+/value"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"urll": "mqtt://h"}, "unknown mqtt setting(s) urll (TITAN_MQTT_URLL)"),
        ({"url": "http://h"}, "mqtt setting url must look like mqtt://host:1883"),
        ({"url": "mqtt://u:secret@h/path"}, "takes no path"),
        ({"qos": "3"}, "mqtt setting qos must be 0, 1 or 2"),
        ({"protocol": "4"}, "mqtt setting protocol must be 5 or 3.1.1"),
        ({"prefix": "a/+/b"}, "mqtt setting prefix must be topic levels without '#', '+'"),
        ({"prefix": "a//b"}, "mqtt setting prefix must be topic levels"),
        ({"shared_group": "a/b"}, "mqtt setting shared_group must be one topic level"),
        ({"clean_session": "false"}, "a persistent session needs a fixed client_id"),
        ({"tls_cert": "/c.pem"}, "tls_cert and tls_key go together"),
        ({"keepalive": "0"}, "mqtt setting keepalive must be at least 1"),
        ({"retain_elements": "maybe"}, "mqtt setting retain_elements must be true or false"),
    ],
)
def test_a_bad_setting_is_refused_with_a_message_naming_it(section: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError) as refused:
        MqttConfig.from_section(section)

    assert message in str(refused.value)
    assert "secret" not in str(refused.value)


def test_each_entity_has_its_events_topic() -> None:
    encoded = encode_identifier(SM)

    assert event_topic("p", {"titanentity": "submodel", "titanid": SM}) == f"p/submodel/{encoded}/events"
    assert event_topic("p/q", {"titanentity": "concept_description", "titanid": SM}) == (
        f"p/q/concept_description/{encoded}/events"
    )
    element = {"titanentity": "element", "titanid": SM, "titanpath": "Box.List[2].Value"}
    assert event_topic("p", element) == f"p/element/{encoded}/Box.List[2].Value/events"
    assert "#" not in encoded and "+" not in encoded and "/" not in encoded


def test_a_deleted_element_or_submodel_names_every_element_topic_it_made_stale() -> None:
    box = {
        "modelType": "SubmodelElementCollection", "idShort": "Box",
        "value": [
            {"modelType": "Property", "idShort": "A", "valueType": "xs:int"},
            {"modelType": "SubmodelElementList", "idShort": "L", "value": [{"modelType": "Property"}]},
        ],
    }  # fmt: skip
    element = {"titanentity": "element", "titanid": SM, "titanpath": "Outer.Box", "data": box}
    whole = {
        "titanentity": "submodel",
        "titanid": SM,
        "data": {"modelType": "Submodel", "submodelElements": [box]},
    }
    topic = f"p/element/{encode_identifier(SM)}/{{}}/events".format

    assert retained_topics_cleared_by("p", element) == [
        topic("Outer.Box"), topic("Outer.Box.A"), topic("Outer.Box.L"), topic("Outer.Box.L[0]")
    ]  # fmt: skip
    assert retained_topics_cleared_by("p", whole) == [
        topic("Box"),
        topic("Box.A"),
        topic("Box.L"),
        topic("Box.L[0]"),
    ]
    assert retained_topics_cleared_by("p", {"titanentity": "shell", "titanid": "x", "data": {}}) == []


@pytest.mark.parametrize(
    ("topic", "message"),
    [
        ("p/element/!!/A/value", "the submodel id level of the topic is not valid"),
        (f"p/element/{encode_identifier(SM)}/A..B/value", "the idShortPath level of the topic is not valid"),
        (f"p/element/{encode_identifier(SM)}/A/other", "is not a write-back topic"),
    ],
)
def test_a_value_topic_that_names_no_element_is_refused(topic: str, message: str) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_value_topic("p", topic, max_depth=64)
    assert message in refused.value.message


def test_a_value_topic_names_its_submodel_and_path() -> None:
    target = parse_value_topic("p/q", f"p/q/element/{encode_identifier(SM)}/Box.L[3]/value", max_depth=64)

    assert (target.submodel_id, target.path, target.error_topic) == (
        SM, ("Box", "L", 3), f"p/q/element/{encode_identifier(SM)}/Box.L[3]/value/error"
    )  # fmt: skip


def event(seq: int, kind: str = "valueChanged", entity: str = "element", data: Any = 1) -> Event:
    envelope: dict[str, Any] = {
        "specversion": "1.0", "titanseq": str(seq), "id": f"id-{seq}", "type": f"io.admin-shell.events.v1.{kind}",
        "titanentity": entity, "titanid": SM, "data": data,
    }  # fmt: skip
    if entity == "element":
        envelope["titanpath"] = "A"
    return Event(envelope, json.dumps(envelope).encode())


class FlakyConnection:
    """Acknowledges the first `acknowledge` messages of its first call, then breaks; later calls work."""

    def __init__(self, acknowledge: int) -> None:
        self.calls: list[list[Outgoing]] = []
        self.acknowledge = acknowledge
        # One connection all along: nothing to republish.
        self.connects = 1
        self.broke_at: float | None = None
        self.on_connect = None

    async def wait_connected(self, timeout: float) -> None:
        return None

    async def publish_many(self, messages: Sequence[Outgoing], *, timeout: float) -> None:
        self.calls.append(list(messages))
        if len(self.calls) == 1:
            raise PublishFailed("connection lost", self.acknowledge)


async def test_a_retried_batch_skips_the_events_the_broker_already_acknowledged() -> None:
    connection = FlakyConnection(acknowledge=2)
    stats = MqttStats()
    sink = MqttSink(MqttConfig(url="mqtt://h", prefix="p"), connection, stats, publish_timeout=1)  # type: ignore[arg-type]
    batch = [event(1), event(2), event(3), event(4)]

    with pytest.raises(PublishFailed):
        await sink.deliver(batch)
    await sink.deliver(batch)  # the sink runner retries the same batch

    assert [json.loads(m.payload)["id"] for m in connection.calls[1]] == ["id-3", "id-4"]
    assert stats.events_published == 4


async def test_with_retain_element_events_are_retained_and_a_delete_clears_after_its_event() -> None:
    connection = FlakyConnection(acknowledge=0)
    connection.calls.append([])  # no failure
    retaining = MqttConfig(url="mqtt://h", prefix="p", retain_elements=True, qos=1, qos_element=2)
    sink = MqttSink(retaining, connection, MqttStats(), publish_timeout=1)  # type: ignore[arg-type]
    element = {"modelType": "Property", "idShort": "A", "valueType": "xs:int"}

    await sink.deliver([event(1), event(2, "deleted", data=element), event(3, "created", "submodel", {})])

    topic = f"p/element/{encode_identifier(SM)}/A/events"
    sent = [(m.topic, m.retain, m.qos, bool(m.payload)) for m in connection.calls[-1]]
    assert sent == [
        (topic, True, 2, True),  # valueChanged: retained
        (topic, False, 2, True),  # deleted: not retained itself ...
        (topic, True, 2, False),  # ... and followed by the zero-length retained clear
        (f"p/submodel/{encode_identifier(SM)}/events", False, 1, True),
    ]


class RefusingConnection(FlakyConnection):
    """The broker refuses every message on an element topic (an ACL, say)."""

    address = broker_address("mqtt://h")

    async def publish_many(self, messages: Sequence[Outgoing], *, timeout: float) -> list[Refused]:  # type: ignore[override]
        self.calls.append(list(messages))
        return [
            Refused(m, "PUBACK reason code 0x87 not authorized") for m in messages if "/element/" in m.topic
        ]


async def test_messages_the_broker_refuses_are_counted_and_logged_not_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    connection = RefusingConnection(acknowledge=0)
    connection.calls.append([])  # no failure
    stats = MqttStats()
    sink = MqttSink(MqttConfig(url="mqtt://h", prefix="p"), connection, stats, publish_timeout=1)  # type: ignore[arg-type]

    await sink.deliver([event(1), event(2, "created", "submodel", {}), event(3)])

    assert len(connection.calls) == 2  # one delivery, no retry
    assert (stats.events_published, stats.messages_refused) == (3, 2)
    assert "refused 2 message(s)" in caplog.text and "0x87 not authorized" in caplog.text


def test_a_refused_subscription_is_named_in_mqtt5_and_311_terms() -> None:
    assert subscription_refusal(0x9E, five=True) == "0x9e shared subscriptions not supported"
    assert subscription_refusal(0x87, five=True) == "0x87 not authorized"
    assert subscription_refusal(0x80, five=False) == "return code 128"


class BrokenThenBackConnection:
    """Connected; then broken until `back` is set; then connected again (a new connection)."""

    def __init__(self) -> None:
        self.connects = 1
        self.broke_at: float | None = None
        self.on_connect: Callable[[], None] | None = None
        self.back = asyncio.Event()
        self.calls: list[list[str]] = []

    def break_now(self) -> None:
        self.broke_at = time.monotonic()
        self.back.clear()

    def reconnect(self) -> None:
        self.connects += 1
        self.back.set()

    async def wait_connected(self, timeout: float) -> None:
        if self.broke_at is not None:
            await self.back.wait()

    async def publish_many(self, messages: Sequence[Outgoing], *, timeout: float) -> None:
        self.calls.append([json.loads(m.payload)["id"] for m in messages])


async def test_after_a_reconnect_the_acknowledged_events_go_out_again_before_the_waiting_batch() -> None:
    connection = BrokenThenBackConnection()
    sink = MqttSink(MqttConfig(url="mqtt://h", prefix="p"), connection, MqttStats(), publish_timeout=1)  # type: ignore[arg-type]
    await sink.deliver([event(1), event(2)])
    connection.break_now()
    waiting = asyncio.create_task(sink.deliver([event(3)]))  # the runner retries while the broker is away
    await asyncio.sleep(0.05)
    assert not waiting.done()
    connection.reconnect()
    await waiting

    assert connection.calls == [["id-1", "id-2"], ["id-1", "id-2"], ["id-3"]]


async def test_every_batch_acknowledged_in_the_window_goes_out_again_after_each_reconnect() -> None:
    connection = BrokenThenBackConnection()
    sink = MqttSink(MqttConfig(url="mqtt://h", prefix="p"), connection, MqttStats(), publish_timeout=1)  # type: ignore[arg-type]
    await sink.deliver([event(1), event(2)])
    await sink.deliver([event(3)])
    connection.break_now()
    connection.reconnect()
    await sink.deliver([event(4)])
    # Republished events count as acknowledged anew: a second break repeats them with the newer one.
    connection.break_now()
    connection.reconnect()
    await sink.deliver([event(5)])

    assert connection.calls == [
        ["id-1", "id-2"], ["id-3"], ["id-1", "id-2", "id-3"], ["id-4"],
        ["id-1", "id-2", "id-3", "id-4"], ["id-5"],
    ]  # fmt: skip


async def test_the_republish_memory_is_bounded_and_keeps_the_newest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("titan_plugin_mqtt.sink._REMEMBERED_FOR_REPUBLISHING", 3)
    connection = BrokenThenBackConnection()
    sink = MqttSink(MqttConfig(url="mqtt://h", prefix="p"), connection, MqttStats(), publish_timeout=1)  # type: ignore[arg-type]
    for first in (1, 3, 5):
        await sink.deliver([event(first), event(first + 1)])
    connection.break_now()
    connection.reconnect()
    await sink.deliver([event(7)])

    again = connection.calls[3]
    assert 1 <= len(again) <= 3 and again == [f"id-{seq}" for seq in range(7 - len(again), 7)], again
    assert connection.calls[4] == ["id-7"]


async def test_a_reconnect_tells_the_sink_runner_to_retry_now() -> None:
    connection = BrokenThenBackConnection()
    sink = MqttSink(MqttConfig(url="mqtt://h", prefix="p"), connection, MqttStats(), publish_timeout=1)  # type: ignore[arg-type]
    assert connection.on_connect is not None  # the sink registered itself with the connection
    assert not sink.retry_now.is_set()
    connection.on_connect()
    assert sink.retry_now.is_set()
