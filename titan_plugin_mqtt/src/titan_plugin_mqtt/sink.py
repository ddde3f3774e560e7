"""`MqttSink`: publishes every event on its topic, once per deployment, in order.

Payload: the envelope's JSON exactly as Titan serialised it (`Event.json`). With `retain_elements`,
element events are retained (a late subscriber gets the last-known-good value at once) and a
`deleted` element or submodel is followed by a zero-length retained message on each element topic
it made stale, MQTT's way of removing a retained message.

A batch goes out pipelined and `deliver` returns once the broker has acknowledged all of it. When
the broker is away `deliver` raises, and Titan's sink runner keeps its cursor and retries: nothing
is lost. A retried batch skips the events the broker already acknowledged, so a broken connection
repeats as little as possible (delivery stays at-least-once: consumers deduplicate by `id`).

An acknowledgement is not the end of the story when the broker crashes: Mosquitto keeps messages in
memory and saves them only every `autosave_interval`, so what it acknowledged just before a SIGKILL
or a power cut may never reach a subscriber. After every reconnect the sink therefore publishes
again, first, the events acknowledged in the `republish_window` seconds before the connection broke.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from titan_core.plugin_api import AsyncAasOptions, Event, Fanout, StoredElements
from titan_plugin_mqtt.client import Outgoing, PublishFailed
from titan_plugin_mqtt.codec import MessageProperties
from titan_plugin_mqtt.config import MqttConfig
from titan_plugin_mqtt.link import NotConnected
from titan_plugin_mqtt.profile_messages import ProfileMessages
from titan_plugin_mqtt.publisher import EventPublisher, Refused
from titan_plugin_mqtt.topics import event_topic, retained_topics_cleared_by

# Structured mode of the CloudEvents MQTT binding: MQTT 5 says what the payload is.
CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"
_DELETED = "io.admin-shell.events.v1.deleted"
_REMEMBERED_IDS = 8192
# Events turned into messages per turn of the event loop (some 5 µs each).
_EVENTS_PER_TURN = 64
# Bounds the memory of the republish window at high rates (about 10 s at 5,000 events/s).
_REMEMBERED_FOR_REPUBLISHING = 50_000

log = logging.getLogger(__name__)


@dataclass
class MqttStats:
    """Counters for `/ready` and the log."""

    events_published: int = 0
    events_republished: int = 0
    # Messages the broker would not take (MQTT 5 reason code >= 0x80, e.g. not authorized).
    messages_refused: int = 0
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
        self,
        config: MqttConfig,
        connection: EventPublisher,
        stats: MqttStats,
        *,
        publish_timeout: float,
        async_aas: AsyncAasOptions | None = None,
        elements: Callable[[], StoredElements] | None = None,
    ) -> None:
        self._config = config
        self._titan = "titan" in config.profiles
        # The other profiles, or None: the titan-only path stays as lean as before.
        self._profiles = ProfileMessages.for_config(config, async_aas=async_aas)
        self._elements = elements
        self.batch_size = config.batch_size
        self._connection = connection
        self._stats = stats
        self._publish_timeout = publish_timeout
        self._acknowledged_ids: OrderedDict[str, None] = OrderedDict()
        # (time.monotonic() of the acknowledgement, the events it acknowledged), oldest first, for
        # republishing. One entry per batch, not per event: at 5,000 events/s per-event tuples
        # doubled what each young garbage collection had to scan.
        self._recent: deque[tuple[float, Sequence[Event]]] = deque()
        self._recent_events = 0
        self._republished_for = 0  # the connection (count of connects) already republished on
        self._lock = asyncio.Lock()  # one publisher at a time keeps the order
        self._republisher: asyncio.Task[None] | None = None
        # Set on every (re)connect: the sink runner retries at once instead of finishing its backoff.
        self.retry_now = asyncio.Event()
        connection.on_connect = self._connected
        self._event_properties: MessageProperties | None = None
        if config.protocol == "5":
            # UTF-8 text; one object for every event, so the codec sees the same properties.
            self._event_properties = MessageProperties(CLOUDEVENTS_CONTENT_TYPE, payload_format_indicator=1)

    async def deliver(self, events: Sequence[Event]) -> None:
        async with self._lock:
            # The connection first: a batch retried while the broker was away must not reach the
            # new connection before what the old one may have lost.
            await self._connection.wait_connected(self._config.connect_wait)
            await self._republish_if_reconnected()
            await self._publish(events)

    async def close(self) -> None:
        if self._republisher is not None:
            self._republisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._republisher

    def _connected(self) -> None:
        self.retry_now.set()
        # Also when no new event comes: what the broker lost must not wait for the next one.
        if self._config.republish_window > 0 and self._recent:
            self._republisher = asyncio.create_task(self._republish_now(), name="titan-mqtt-republish")

    async def _republish_now(self) -> None:
        async with self._lock:
            try:
                await self._republish_if_reconnected()
            except (NotConnected, PublishFailed) as error:
                log.warning("could not republish after reconnecting (the next delivery retries): %s", error)

    async def _republish_if_reconnected(self) -> None:
        connection = self._connection
        generation, broke_at = connection.connects, connection.broke_at
        if generation == self._republished_for:
            return
        window = self._config.republish_window
        if broke_at is not None and window > 0:
            cutoff = broke_at - window
            again = [
                event
                for acknowledged_at, batch in self._recent
                if acknowledged_at >= cutoff
                for event in batch
            ]
            if again:
                stored = await self._stored_elements(again)
                messages = [message for event in again for message in self.messages_of(event, stored)]
                self._report(await connection.publish_many(messages, timeout=self._publish_timeout))
                self._stats.events_republished += len(again)
                # They are the newest remembered (the times only grow); acknowledged anew, they
                # count from now.
                while self._recent and self._recent[-1][0] >= cutoff:
                    self._recent_events -= len(self._recent.pop()[1])
                self._remember(time.monotonic(), again)
                log.info(
                    "published %d events again (titanseq %s to %s) that the broker acknowledged in the "
                    "%g s before the connection broke: a crashed broker may have lost them",
                    len(again), again[0].titanseq, again[-1].titanseq, window,
                )  # fmt: skip
        self._republished_for = generation

    async def _publish(self, events: Sequence[Event]) -> None:
        # Events the broker acknowledged in an earlier attempt at this batch: only a leading run is
        # skipped, so what is sent again keeps its order.
        start = 0
        while start < len(events) and str(events[start].envelope["id"]) in self._acknowledged_ids:
            start += 1
        pending = events[start:]
        stored = await self._stored_elements(pending)
        messages: list[Outgoing] = []
        ends: list[int] = []  # for each event, the number of messages up to and including its own
        for position, event in enumerate(pending, 1):
            messages.extend(self.messages_of(event, stored))
            ends.append(len(messages))
            if position % _EVENTS_PER_TURN == 0:
                await asyncio.sleep(0)  # a big batch (a backlog) must not hold up REST requests
        try:
            refused = await self._connection.publish_many(messages, timeout=self._publish_timeout)
        except PublishFailed as failure:
            done = sum(1 for end in ends if end <= failure.acknowledged)
            self._count(pending[:done], ends[:done])
            raise
        self._count(pending, ends)
        self._report(refused)

    def _report(self, refused: Sequence[Refused] | None) -> None:
        """Count and log what the broker refused: publishing it again would be refused again."""
        if not refused:
            return
        self._stats.messages_refused += len(refused)
        first = refused[0]
        log.error(
            "the MQTT broker %s refused %d message(s), first on %s (%s): check its ACL for Titan's user; "
            "the events stay on the bus and on other transports",
            self._connection.address.display, len(refused), first.message.topic, first.reason,
        )  # fmt: skip

    async def _stored_elements(self, events: Sequence[Event]) -> Mapping[int, dict[str, Any]]:
        """The stored elements of the batch's valueChanged events, when a profile beside titan is on.

        Both other profiles need them: BaSyx sends the element, and async-aas takes `dataschema` (its
        modelType) and `semanticid` from it even when its events are slim."""
        if self._profiles is None or self._elements is None:
            return {}
        return await self._elements().of(events)

    def messages_of(self, event: Event, stored: Mapping[int, dict[str, Any]] | None = None) -> list[Outgoing]:
        """The MQTT messages one event becomes: one per profile, and the retained clears a delete implies."""
        config = self._config
        envelope = event.envelope
        entity = str(envelope["titanentity"])
        qos = config.qos_for(entity)
        messages: list[Outgoing] = []
        if self._profiles is not None:
            element = stored.get(event.titanseq) if stored else None
            messages += self._profiles.messages(event, element, qos=qos)
        if not self._titan:
            return messages
        deleted = envelope["type"] == _DELETED
        retain = config.retain_elements and entity == "element" and not deleted
        topic = event_topic(config.prefix, envelope)
        messages.append(Outgoing(topic, event.json, qos, retain, self._event_properties))
        if deleted and config.retain_elements:
            element_qos = config.qos_for("element")
            messages += [
                Outgoing(cleared, b"", element_qos, True)
                for cleared in retained_topics_cleared_by(config.prefix, envelope)
            ]
        return messages

    def _remember(self, acknowledged_at: float, events: Sequence[Event]) -> None:
        """Keep `events` for republishing, forgetting the oldest beyond the memory bound."""
        self._recent.append((acknowledged_at, events))
        self._recent_events += len(events)
        while self._recent_events > _REMEMBERED_FOR_REPUBLISHING and len(self._recent) > 1:
            self._recent_events -= len(self._recent.popleft()[1])

    def _count(self, events: Sequence[Event], ends: Sequence[int]) -> None:
        if not events:
            return
        now = time.monotonic()
        for event in events:
            self._acknowledged_ids[str(event.envelope["id"])] = None
        while len(self._acknowledged_ids) > _REMEMBERED_IDS:
            self._acknowledged_ids.popitem(last=False)
        window = self._config.republish_window
        if window > 0:
            self._remember(now, events)
            # Trimmed only here, while acknowledgements arrive, and never while a broken
            # connection's events still wait to be republished.
            if self._republished_for == self._connection.connects:
                while self._recent and self._recent[0][0] < now - window:
                    self._recent_events -= len(self._recent.popleft()[1])
        self._stats.events_published += len(events)
        self._stats.retained_cleared += ends[-1] - len(events)
        self._stats.last_published_at = time.time()
