"""`MqttSink`: publishes every event on its topic, once per deployment, in order.

Payload: the envelope's JSON exactly as Titan serialised it (`Event.json`). With `retain_elements`,
element events are retained (a late subscriber gets the last-known-good value at once) and a
`deleted` element or submodel is followed by a zero-length retained message on each element topic
it made stale, MQTT's way of removing a retained message.

A batch goes out pipelined and `deliver` returns once the broker has acknowledged all of it. When
the broker is away `deliver` raises, and Titan's sink runner keeps its cursor and retries: nothing
is lost. A retried batch skips the events the broker already acknowledged, so a broken connection
repeats as little as possible (delivery stays at-least-once: consumers deduplicate by `id`).
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from titan_core.events.sink import Event, Fanout
from titan_plugin_mqtt.config import MqttConfig
from titan_plugin_mqtt.connection import MqttConnection, Outgoing, PublishFailed, new_properties
from titan_plugin_mqtt.topics import event_topic, retained_topics_cleared_by

# Structured mode of the CloudEvents MQTT binding: MQTT 5 says what the payload is.
CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"
_DELETED = "io.admin-shell.events.v1.deleted"
_REMEMBERED_IDS = 8192


@dataclass
class MqttStats:
    """Counters for `/ready` and the log."""

    events_published: int = 0
    retained_cleared: int = 0
    last_published_at: float | None = None
    writes_applied: int = 0
    writes_refused: Counter[str] = field(default_factory=Counter)
    writes_ignored: int = 0


class MqttSink:
    """The `once` sink of the MQTT plugin: one publication per event per deployment."""

    name = "mqtt"
    fanout: Fanout = "once"

    def __init__(
        self, config: MqttConfig, connection: MqttConnection, stats: MqttStats, *, publish_timeout: float
    ) -> None:
        self._config = config
        self._connection = connection
        self._stats = stats
        self._publish_timeout = publish_timeout
        self._acknowledged_ids: OrderedDict[str, None] = OrderedDict()
        self._event_properties: Properties | None = None
        if config.protocol == "5":
            properties = new_properties(PacketTypes.PUBLISH)
            properties.ContentType = CLOUDEVENTS_CONTENT_TYPE
            properties.PayloadFormatIndicator = 1  # UTF-8 text
            self._event_properties = properties

    async def deliver(self, events: Sequence[Event]) -> None:
        # Events the broker acknowledged in an earlier attempt at this batch: only a leading run is
        # skipped, so what is sent again keeps its order.
        start = 0
        while start < len(events) and str(events[start].envelope["id"]) in self._acknowledged_ids:
            start += 1
        pending = events[start:]
        messages: list[Outgoing] = []
        ends: list[int] = []  # for each event, the number of messages up to and including its own
        for event in pending:
            messages.extend(self.messages_of(event))
            ends.append(len(messages))
        try:
            await self._connection.publish_many(messages, timeout=self._publish_timeout)
        except PublishFailed as failure:
            done = sum(1 for end in ends if end <= failure.acknowledged)
            self._count(pending[:done], ends[:done])
            raise
        self._count(pending, ends)

    def messages_of(self, event: Event) -> list[Outgoing]:
        """The MQTT messages one event becomes: itself, and the retained clears a delete implies."""
        config = self._config
        envelope = event.envelope
        entity = str(envelope["titanentity"])
        qos = config.qos_for(entity)
        deleted = envelope["type"] == _DELETED
        retain = config.retain_elements and entity == "element" and not deleted
        topic = event_topic(config.prefix, envelope)
        messages = [Outgoing(topic, event.json, qos, retain, self._event_properties)]
        if deleted and config.retain_elements:
            element_qos = config.qos_for("element")
            messages += [
                Outgoing(cleared, b"", element_qos, True)
                for cleared in retained_topics_cleared_by(config.prefix, envelope)
            ]
        return messages

    def _count(self, events: Sequence[Event], ends: Sequence[int]) -> None:
        if not events:
            return
        for event in events:
            self._acknowledged_ids[str(event.envelope["id"])] = None
        while len(self._acknowledged_ids) > _REMEMBERED_IDS:
            self._acknowledged_ids.popitem(last=False)
        self._stats.events_published += len(events)
        self._stats.retained_cleared += ends[-1] - len(events)
        self._stats.last_published_at = time.time()
