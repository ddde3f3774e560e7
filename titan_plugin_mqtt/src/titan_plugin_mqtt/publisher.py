"""`EventPublisher`: the connection every event goes out on, a lean publish-only MQTT client.

Why not aiomqtt here, as for write-back: paho and aiomqtt spend some 100-280 µs of CPU per message
(a task, a future, a lock, a property object, a scan of the pending calls), which at 5,000 events/s
is most of a core taken from the REST API on the same event loop. Publishing needs little of
MQTT: CONNECT, PUBLISH, the acknowledgements, keepalive. Here a batch becomes one buffer of packets
written at once, acknowledgements are read straight off the socket, and a message costs a few
microseconds (docs/performance.md, "MQTT").

The broker's limits from CONNACK are honoured: Receive Maximum caps the messages awaiting
acknowledgement (and `max_inflight`), Maximum QoS lowers the QoS, a message above Maximum Packet
Size is refused here instead of getting the connection closed, and without Retain Available
messages go out unretained. A message the broker refuses (MQTT 5 reason code 0x80 or above, e.g.
0x87 not authorized) is reported to the caller, which counts and logs it: sending it again would
not change the broker's mind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from titan_plugin_mqtt.config import MqttConfig
from titan_plugin_mqtt.connection import Outgoing, PublishFailed, tls_context
from titan_plugin_mqtt.link import LinkState, default_client_id
from titan_plugin_mqtt.packets import (
    CONNACK,
    DISCONNECT,
    DISCONNECT_PACKET,
    PINGREQ_PACKET,
    PUBACK,
    PUBCOMP,
    PUBREC,
    ConnAck,
    ProtocolError,
    connect_packet,
    parse_ack,
    parse_connack,
    publish_packet,
    pubrel_packet,
    read_varint,
    reason_text,
    split_packets,
)

log = logging.getLogger(__name__)

# Packets encoded and written per turn of the event loop: about 0.1-0.3 ms of work, so requests
# waiting on the same loop are not held up by a big batch.
_PACKETS_PER_TURN = 64
_PACKET_TOO_LARGE = 0x95
_CONNECT_TIMEOUT_S = 10.0


@dataclass
class Refused:
    """A message the broker (or its announced limits) would not take."""

    message: Outgoing
    reason: str


@dataclass
class _Batch:
    """Acknowledgement bookkeeping of one `publish_many` call."""

    size: int
    settled: bytearray = field(init=False)
    remaining: int = field(init=False)
    refused: list[tuple[int, str]] = field(default_factory=list)
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    progress_at: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.settled = bytearray(self.size)
        self.remaining = self.size

    def settle(self, index: int, refusal: str = "") -> None:
        if self.settled[index]:
            return
        self.settled[index] = 1
        self.remaining -= 1
        self.progress_at = time.monotonic()
        if refusal:
            self.refused.append((index, refusal))
        if not self.remaining and not self.done.done():
            self.done.set_result(None)

    def leading_settled(self) -> int:
        position = self.settled.find(0)
        return self.size if position < 0 else position


class _Wire(asyncio.Protocol):
    """One TCP (or TLS) connection: parses what the broker sends, tracks messages in flight."""

    def __init__(self, publisher: EventPublisher) -> None:
        self.publisher = publisher
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        loop = asyncio.get_running_loop()
        self.connack: asyncio.Future[ConnAck] = loop.create_future()
        self.closed: asyncio.Future[str] = loop.create_future()
        # packet id -> (batch, index in the batch); QoS 2 ids stay until PUBCOMP.
        self.in_flight: dict[int, tuple[_Batch, int]] = {}
        self.window_open = asyncio.Event()
        self.window_open.set()
        self.writable = asyncio.Event()
        self.writable.set()
        self.capacity = 65535
        self.last_received = time.monotonic()
        self._next_id = 0

    # asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.last_received = time.monotonic()
        self.buffer += data
        try:
            packets, used = split_packets(self.buffer)
            del self.buffer[:used]
            for first, body in packets:
                self._handle(first >> 4, body)
        except ProtocolError as error:
            self.close(f"protocol error from the broker: {error}")

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f"{type(exc).__name__}: {exc}" if exc else "the broker closed the connection"
        self._closed(reason)

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    # ------------------------------------------------------------------------------------

    def close(self, reason: str) -> None:
        self._closed(reason)
        if self.transport is not None:
            self.transport.abort()

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def track(self, batch: _Batch, index: int) -> int:
        """A free packet id for message `index` of `batch`, now in flight."""
        packet_id = self._next_id
        while True:
            packet_id = packet_id % 65535 + 1
            if packet_id not in self.in_flight:
                break
        self._next_id = packet_id
        self.in_flight[packet_id] = (batch, index)
        if len(self.in_flight) >= self.capacity:
            self.window_open.clear()
        return packet_id

    def untrack(self, packet_id: int) -> tuple[_Batch, int] | None:
        """Free a packet id (acknowledged, or not sent after all); returns what it was for."""
        entry = self.in_flight.pop(packet_id, None)
        if len(self.in_flight) < self.capacity:
            self.window_open.set()
        return entry

    def check_open(self) -> None:
        """Raise `_Broken` once the connection has ended."""
        if self.closed.done():
            raise _Broken(f"connection lost ({self.closed.result()})")

    def _handle(self, kind: int, body: bytes) -> None:
        if kind in (PUBACK, PUBCOMP):
            packet_id, reason = parse_ack(body)
            self._settle(packet_id, reason, "PUBACK" if kind == PUBACK else "PUBCOMP")
        elif kind == PUBREC:
            packet_id, reason = parse_ack(body)
            if reason >= 0x80:
                self._settle(packet_id, reason, "PUBREC")
            else:
                self.write(pubrel_packet(packet_id))
        elif kind == CONNACK:
            if not self.connack.done():
                self.connack.set_result(parse_connack(body, self.publisher.config.protocol))
        elif kind == DISCONNECT:
            code = body[0] if body else 0
            self.close(f"the broker sent DISCONNECT (reason code {reason_text(code)})")
        # PINGRESP needs nothing beyond `last_received`; nothing else is expected on a connection
        # that subscribes to nothing.

    def _settle(self, packet_id: int, reason: int, packet: str) -> None:
        entry = self.untrack(packet_id)
        if entry is None:
            return  # an acknowledgement for a message of an earlier, failed batch
        batch, index = entry
        batch.settle(index, f"{packet} reason code {reason_text(reason)}" if reason >= 0x80 else "")

    def _closed(self, reason: str) -> None:
        if not self.closed.done():
            self.closed.set_result(reason)
        self.window_open.set()
        self.writable.set()


class EventPublisher(LinkState):
    """The event-publishing connection: reconnects with backoff, publishes batches pipelined."""

    def __init__(self, config: MqttConfig) -> None:
        base = config.client_id or default_client_id()
        # Its own client id: a broker closes the older of two connections that share one.
        super().__init__(config, client_id=f"{base}-events", role="MQTT event publisher")
        self._tls_context = tls_context(config) if config.tls else None
        self._wire: _Wire | None = None
        self._connack = ConnAck("")
        self._warned_retain = False

    async def wait_connected(self, timeout: float) -> None:
        await self.wait_up(timeout)

    @property
    def in_flight(self) -> int:
        """Messages sent on the current connection that the broker has not acknowledged yet."""
        wire = self._wire
        return 0 if wire is None else len(wire.in_flight)

    async def publish_many(self, messages: Sequence[Outgoing], *, timeout: float) -> list[Refused]:
        """Publish `messages` in order; return once the broker acknowledged every QoS 1/2 message.

        Returns the messages the broker refused. Raises `NotConnected` before anything went out, or
        `PublishFailed` with how many leading messages were settled when the connection broke or
        no acknowledgement came for `timeout` seconds (the connection is then dropped).
        """
        if not messages:
            return []
        await self.wait_up(self.config.connect_wait)
        wire = self._wire
        assert wire is not None
        batch = _Batch(len(messages))
        try:
            await self._send(wire, batch, messages)
            await self._await_acknowledgements(wire, batch, timeout)
        except _Broken as broken:
            settled = batch.leading_settled()
            raise PublishFailed(
                f"{len(messages) - settled} of {len(messages)} messages not acknowledged by "
                f"{self.address.display}: {broken}",
                settled,
            ) from None
        return [Refused(messages[index], reason) for index, reason in sorted(batch.refused)]

    async def _send(self, wire: _Wire, batch: _Batch, messages: Sequence[Outgoing]) -> None:
        properties_of: dict[int, bytes] = {}  # one encoding per property set of the batch
        five = self.config.protocol == "5"
        limits = self._connack
        max_qos = 2 if limits.maximum_qos is None else limits.maximum_qos
        max_size = limits.maximum_packet_size
        chunk: list[bytes] = []
        for index, message in enumerate(messages):
            wire.check_open()
            qos = min(message.qos, max_qos)
            if qos and not wire.window_open.is_set():
                if chunk:
                    wire.write(b"".join(chunk))
                    chunk.clear()
                await wire.window_open.wait()
                wire.check_open()
            properties: bytes | None = None
            if five:
                key = id(message.properties)
                properties = properties_of.get(key)
                if properties is None:
                    properties = properties_of[key] = property_block(message)
            retain = message.retain and self._retain_allowed()
            packet_id = wire.track(batch, index) if qos else 0
            packet = publish_packet(
                message.topic.encode(), message.payload, qos, retain, packet_id, properties
            )
            if max_size is not None and len(packet) > max_size:
                if qos:
                    wire.untrack(packet_id)
                batch.settle(
                    index, f"larger ({len(packet)} bytes) than the broker's Maximum Packet Size {max_size}"
                )
                continue
            chunk.append(packet)
            if not qos:
                batch.settle(index)
            if len(chunk) >= _PACKETS_PER_TURN:
                wire.write(b"".join(chunk))
                chunk.clear()
                # Let the loop serve other work (REST requests) between chunks.
                await asyncio.sleep(0)
                if not wire.writable.is_set():
                    await wire.writable.wait()
        if chunk and not wire.closed.done():
            wire.write(b"".join(chunk))

    async def _await_acknowledgements(self, wire: _Wire, batch: _Batch, timeout: float) -> None:
        while not batch.done.done():
            waited: set[asyncio.Future[object]] = {batch.done, wire.closed}  # type: ignore[arg-type]
            silent_for = time.monotonic() - batch.progress_at
            await asyncio.wait(
                waited, timeout=max(0.0, timeout - silent_for), return_when=asyncio.FIRST_COMPLETED
            )
            if batch.done.done():
                return
            wire.check_open()
            if time.monotonic() - batch.progress_at >= timeout:
                reason = f"no acknowledgement for {timeout:g} s"
                wire.close(reason)
                raise _Broken(reason)

    def _retain_allowed(self) -> bool:
        if self._connack.retain_available:
            return True
        if not self._warned_retain:
            self._warned_retain = True
            log.warning(
                "the MQTT broker %s does not support retained messages (CONNACK Retain Available 0): "
                "element events go out unretained",
                self.address.display,
            )
        return False

    # ------------------------------------------------------------------ the connection task

    async def _run(self) -> None:
        while True:
            try:
                reason = await self._connect_and_serve()
                self.set_disconnected(reason)
            except asyncio.CancelledError:
                self.set_disconnected("Titan is stopping", expected=True)
                raise
            except (OSError, TimeoutError, ProtocolError, _Refused) as error:
                self.set_disconnected(str(error) or type(error).__name__)
            except Exception as error:  # a bug here must not end reconnecting for good
                log.exception("MQTT event publisher to %s failed unexpectedly", self.address.display)
                self.set_disconnected(f"{type(error).__name__}: {error}")
            finally:
                self._wire = None
            await self.pause_before_reconnecting()

    async def _connect_and_serve(self) -> str:
        """Connect, then serve keepalive until the connection ends; returns why it ended."""
        config, address = self.config, self.address
        loop = asyncio.get_running_loop()
        transport, wire = await asyncio.wait_for(
            loop.create_connection(
                lambda: _Wire(self),
                address.host,
                address.port,
                ssl=self._tls_context,
                server_hostname=address.host if self._tls_context else None,
            ),
            _CONNECT_TIMEOUT_S,
        )
        try:
            self._configure_socket(transport)
            username = config.username or address.username or None
            password = config.password or address.password or None
            # A clean session: nothing is subscribed here, and what was in flight is sent again.
            wire.write(
                connect_packet(
                    config.protocol, client_id=self.client_id, keepalive=config.keepalive, clean=True,
                    username=username, password=password,
                )
            )  # fmt: skip
            waited: set[asyncio.Future[object]] = {wire.connack, wire.closed}  # type: ignore[arg-type]
            await asyncio.wait(waited, timeout=_CONNECT_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
            if not wire.connack.done():
                raise _Refused(wire.closed.result() if wire.closed.done() else "no CONNACK within 10 s")
            connack = wire.connack.result()
            if connack.refusal:
                raise _Refused(f"the broker refused the connection: {connack.refusal}")
            self._connack = connack
            wire.capacity = min(config.max_inflight, connack.receive_maximum or 65535)
            self._wire = wire
            self.set_connected()
            log.info(
                "MQTT event publisher connected to %s (%s, client id %s, at most %d messages in flight)",
                address.display, self.protocol_label, self.client_id, wire.capacity,
            )  # fmt: skip
            return await self._keep_alive(wire, connack.server_keepalive or config.keepalive)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                transport.write(DISCONNECT_PACKET)
            raise
        finally:
            transport.close()

    async def _keep_alive(self, wire: _Wire, keepalive: int) -> str:
        """PINGREQ at half the keepalive interval; a broker silent for 1.5 intervals is gone."""
        if keepalive <= 0:
            return await wire.closed
        while True:
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(asyncio.shield(wire.closed), keepalive / 2)
            if time.monotonic() - wire.last_received > keepalive * 1.5:
                wire.close(f"no answer from the broker for {keepalive * 1.5:g} s (keepalive)")
                continue
            wire.write(PINGREQ_PACKET)

    def _configure_socket(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # asyncio turns TCP_NODELAY on; the setting may turn it off.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if self.config.tcp_nodelay else 0)


class _Broken(ConnectionError):
    """The connection broke, or stalled, while a batch was in flight."""


class _Refused(ConnectionError):
    """The broker did not accept the connection."""


def property_block(message: Outgoing) -> bytes:
    """The MQTT 5 properties of `message` without their length (publish_packet writes that)."""
    if message.properties is None:
        return b""
    packed: bytes = message.properties.pack()  # type: ignore[no-untyped-call]
    _, start = read_varint(packed, 0)
    return packed[start:]
