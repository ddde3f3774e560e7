"""`MqttClient`: Titan's one MQTT client, for publishing events and for write-back alike.

Why not aiomqtt: paho-mqtt and aiomqtt spend some 100-280 µs of CPU per message (a task, a
future, a lock, a property object, a scan of the pending calls), which at 5,000 events/s is most of
a core taken from the REST API on the same event loop, and aiomqtt read one packet per wake-up of
the socket, so a burst of device writes never reached the group commit together. This client is
an `asyncio.Protocol` around a codec (codec.py: `mqtt5` for MQTT 5, codec311.py for 3.1.1): a
batch becomes one buffer of packets written at once, and every packet waiting on the socket is
decoded on each read, acknowledgements and device writes alike.

The broker's limits from CONNACK are honoured: Receive Maximum caps the messages awaiting
acknowledgement (and `max_inflight`), Maximum QoS lowers the QoS, a message above Maximum Packet
Size is refused here instead of getting the connection closed, and without Retain Available
messages go out unretained. A message the broker refuses (MQTT 5 reason code 0x80 or above, e.g.
0x87 not authorized) is reported to the caller, which counts and logs it: sending it again would
not change the broker's mind.

Incoming messages (the write-back subscription) are acknowledged on receipt, QoS 2 with its
PUBREC/PUBREL/PUBCOMP exchange, and handed in arrival order to `on_message`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

from titan_core.plugin_api import SettingsError, loggable
from titan_plugin_mqtt.codec import (
    PUBACK,
    PUBCOMP,
    PUBREC,
    PUBREL,
    Ack,
    Codec,
    ConnAck,
    ConnectRequest,
    Disconnect,
    Message,
    MessageProperties,
    ProtocolError,
    Received,
    SubAck,
    codec_for,
    reason_text,
)
from titan_plugin_mqtt.config import MqttConfig
from titan_plugin_mqtt.link import LinkState

log = logging.getLogger(__name__)

# Packets encoded and written per turn of the event loop: about 0.1-0.3 ms of work, so requests
# waiting on the same loop are not held up by a big batch.
_PACKETS_PER_TURN = 64
_CONNECT_TIMEOUT_S = 10.0
# Linux only; elsewhere ACKs keep the kernel's timing.
_QUICKACK_AVAILABLE = hasattr(socket, "TCP_QUICKACK")

MessageHandler = Callable[[Message], Awaitable[None]]


class PublishFailed(ConnectionError):
    """A batch was cut short; its first `acknowledged` messages reached the broker."""

    def __init__(self, message: str, acknowledged: int) -> None:
        super().__init__(message)
        self.acknowledged = acknowledged


@dataclass(frozen=True)
class Outgoing:
    topic: str
    payload: bytes
    qos: int
    retain: bool = False
    properties: MessageProperties | None = None


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
    """One TCP (or TLS) connection: decodes what the broker sends, tracks messages in flight."""

    def __init__(self, codec: Codec, deliver: Callable[[Message], None]) -> None:
        self.codec = codec
        self._deliver = deliver
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        loop = asyncio.get_running_loop()
        self.connack: asyncio.Future[ConnAck] = loop.create_future()
        self.closed: asyncio.Future[str] = loop.create_future()
        self.subacks: dict[int, asyncio.Future[SubAck]] = {}
        # packet id -> (batch, index in the batch); QoS 2 ids stay until PUBCOMP.
        self.in_flight: dict[int, tuple[_Batch, int]] = {}
        # Packet ids of QoS 2 messages received and not yet released (PUBREL): delivered once.
        self.received_qos2: set[int] = set()
        self.window_open = asyncio.Event()
        self.window_open.set()
        self.writable = asyncio.Event()
        self.writable.set()
        self.capacity = 65535
        self.last_received = time.monotonic()
        self._next_id = 0
        # Set by `acknowledge_at_once`: the socket whose ACKs go out without the kernel's delay.
        self._quick_ack: socket.socket | None = None

    # asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, by create_connection's contract; not checked with isinstance: uvloop's
        # transports (what `titan serve` runs on) do not derive from asyncio.Transport.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.last_received = time.monotonic()
        if self._quick_ack is not None:
            self._ack_now(self._quick_ack)
        self.buffer += data
        try:
            packets, used = self.codec.read(self.buffer)
            del self.buffer[:used]
            for packet in packets:
                self._handle(packet)
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

    def acknowledge_at_once(self, sock: socket.socket) -> None:
        """ACK what the broker sends at once instead of after the kernel's delayed-ACK timer.

        A broker without TCP_NODELAY (Mosquitto's default) holds each small PUBACK back until the
        previous one is ACKed (Nagle), and Linux delays that ACK by up to 40 ms while Titan, waiting
        for the batch's acknowledgements, has nothing to send it with: every batch of two or more
        messages took 40 ms. TCP_QUICKACK is not sticky, so it is set again after each read.
        """
        self._quick_ack = sock
        self._ack_now(sock)

    def _ack_now(self, sock: socket.socket) -> None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        except OSError:
            self._quick_ack = None  # a socket that refuses it once will not take it later either

    def close(self, reason: str) -> None:
        self._closed(reason)
        if self.transport is not None:
            self.transport.abort()

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def new_packet_id(self) -> int:
        packet_id = self._next_id
        while True:
            packet_id = packet_id % 65535 + 1
            if packet_id not in self.in_flight and packet_id not in self.subacks:
                break
        self._next_id = packet_id
        return packet_id

    def track(self, batch: _Batch, index: int) -> int:
        """A free packet id for message `index` of `batch`, now in flight."""
        packet_id = self.new_packet_id()
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

    def _handle(self, packet: Received) -> None:
        if isinstance(packet, Ack):
            self._acknowledged(packet)
        elif isinstance(packet, Message):
            self._received(packet)
        elif isinstance(packet, ConnAck):
            if not self.connack.done():
                self.connack.set_result(packet)
        elif isinstance(packet, SubAck):
            waiting = self.subacks.pop(packet.packet_id, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(packet)
        elif isinstance(packet, Disconnect):
            self.close(f"the broker sent DISCONNECT (reason code {reason_text(packet.reason)})")
        # PINGRESP needs nothing beyond `last_received`.

    def _acknowledged(self, ack: Ack) -> None:
        kind, packet_id, reason = ack.kind, ack.packet_id, ack.reason
        if kind == PUBREC and reason < 0x80:
            self.write(self.codec.acknowledge(PUBREL, packet_id))
        elif kind == PUBREL:  # the broker releases a QoS 2 message it delivered to us
            self.received_qos2.discard(packet_id)
            self.write(self.codec.acknowledge(PUBCOMP, packet_id))
        else:
            self._settle(packet_id, reason, {PUBACK: "PUBACK", PUBREC: "PUBREC"}.get(kind, "PUBCOMP"))

    def _received(self, message: Message) -> None:
        if message.qos == 1:
            self.write(self.codec.acknowledge(PUBACK, message.packet_id))
        elif message.qos == 2:
            self.write(self.codec.acknowledge(PUBREC, message.packet_id))
            if message.packet_id in self.received_qos2:
                return  # sent again before our PUBREC arrived: delivered already
            self.received_qos2.add(message.packet_id)
        self._deliver(message)

    def _settle(self, packet_id: int, reason: int, packet: str) -> None:
        entry = self.untrack(packet_id)
        if entry is None:
            return  # an acknowledgement for a message of an earlier, failed batch
        batch, index = entry
        batch.settle(index, f"{packet} reason code {reason_text(reason)}" if reason >= 0x80 else "")

    def _closed(self, reason: str) -> None:
        if not self.closed.done():
            self.closed.set_result(reason)
        for waiting in self.subacks.values():
            if not waiting.done():
                waiting.set_exception(_Broken(f"connection lost ({reason})"))
        self.window_open.set()
        self.writable.set()


class MqttClient(LinkState):
    """A broker connection: reconnects with backoff, publishes batches pipelined, and (with
    `subscriptions`) subscribes on every connect and hands incoming messages to `on_message`."""

    def __init__(
        self,
        config: MqttConfig,
        *,
        client_id: str,
        role: str,
        clean: bool = True,
        subscriptions: Sequence[str] = (),
        on_message: MessageHandler | None = None,
    ) -> None:
        super().__init__(config, client_id=client_id, role=role)
        self.clean = clean
        self.subscriptions = tuple(subscriptions)
        # Why the broker refused a subscription ("" when it granted them all).
        self.subscription_refused = ""
        self._on_message = on_message
        self._incoming: asyncio.Queue[Message] = asyncio.Queue()
        self._codec = codec_for(config.protocol)
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
        encode = self._codec.publish
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
            retain = message.retain and self._retain_allowed()
            packet_id = wire.track(batch, index) if qos else 0
            packet = encode(message.topic, message.payload, qos, retain, packet_id, message.properties)
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
                "messages go out unretained",
                self.address.display,
            )
        return False

    # ------------------------------------------------------------------ the connection task

    async def _run(self) -> None:
        dispatcher = asyncio.create_task(self._dispatch(), name=f"titan-{self.role}-incoming")
        try:
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
                    log.exception("%s to %s failed unexpectedly", self.role, self.address.display)
                    self.set_disconnected(f"{type(error).__name__}: {error}")
                finally:
                    self._wire = None
                await self.pause_before_reconnecting()
        finally:
            dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await dispatcher

    async def _dispatch(self) -> None:
        """Hand incoming messages to `on_message` in arrival order.

        `get` does not yield while messages wait, so the messages one read of the socket brought
        reach the handler in one turn of the event loop (and the Repository's group commit together).
        """
        while True:
            message = await self._incoming.get()
            if self._on_message is not None:
                try:
                    await self._on_message(message)
                except Exception:  # one bad message must not stop the others
                    # The topic is the device's text (issue 13, L2): escaped like every logged topic.
                    log.exception("%s: handling a message on %s failed", self.role, loggable(message.topic))

    async def _connect_and_serve(self) -> str:
        """Connect, subscribe, then serve keepalive until the connection ends; returns why it ended."""
        config, address = self.config, self.address
        loop = asyncio.get_running_loop()
        transport, wire = await asyncio.wait_for(
            loop.create_connection(
                lambda: _Wire(self._codec, self._incoming.put_nowait),
                address.host,
                address.port,
                ssl=self._tls_context,
                server_hostname=address.host if self._tls_context else None,
            ),
            _CONNECT_TIMEOUT_S,
        )
        try:
            self._configure_socket(transport, wire)
            connack = await self._handshake(wire)
            self._connack = connack
            wire.capacity = min(config.max_inflight, connack.receive_maximum or 65535)
            await self._subscribe(wire)
            self._wire = wire
            self.set_connected()
            log.info(
                "%s to %s is up (%s, client id %s, %s session, at most %d messages in flight)%s",
                self.role, address.display, self.protocol_label, self.client_id,
                "clean" if self.clean else "persistent", wire.capacity,
                f"; subscribed to {', '.join(self.subscriptions)}" if self.subscriptions else "",
            )  # fmt: skip
            return await self._keep_alive(wire, connack.server_keepalive or config.keepalive)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                transport.write(self._codec.disconnect)
            raise
        finally:
            transport.close()

    async def _handshake(self, wire: _Wire) -> ConnAck:
        config, address = self.config, self.address
        wire.write(
            self._codec.connect(
                ConnectRequest(
                    client_id=self.client_id,
                    keepalive=config.keepalive,
                    clean=self.clean,
                    username=config.username or address.username or None,
                    password=config.password or address.password or None,
                    session_expiry=0 if self.clean else config.session_expiry,
                )
            )
        )
        waited: set[asyncio.Future[object]] = {wire.connack, wire.closed}  # type: ignore[arg-type]
        await asyncio.wait(waited, timeout=_CONNECT_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
        if not wire.connack.done():
            raise _Refused(wire.closed.result() if wire.closed.done() else "no CONNACK within 10 s")
        connack = wire.connack.result()
        if connack.refusal:
            raise _Refused(f"the broker refused the connection: {connack.refusal}")
        return connack

    async def _subscribe(self, wire: _Wire) -> None:
        """Subscribe to every filter at QoS 1; a refusal is logged and kept for /ready."""
        if not self.subscriptions:
            return
        packet_id = wire.new_packet_id()
        answer: asyncio.Future[SubAck] = asyncio.get_running_loop().create_future()
        wire.subacks[packet_id] = answer
        wire.write(self._codec.subscribe(packet_id, self.subscriptions, 1))
        try:
            suback = await asyncio.wait_for(answer, _CONNECT_TIMEOUT_S)
        except TimeoutError:
            raise _Refused(f"no SUBACK within {_CONNECT_TIMEOUT_S:g} s") from None
        refusals = []
        for subscription, code in zip(self.subscriptions, suback.codes, strict=False):
            if code >= 0x80:
                refused = subscription_refusal(code, self.config.protocol == "5")
                refusals.append(f"{subscription}: {refused}")
                log.error(
                    "the MQTT broker %s refused the write-back subscription %s (%s): device writes will not "
                    "reach Titan; check the broker's ACL for Titan's user, or its support of $share/ "
                    "(setting shared_group)",
                    self.address.display, subscription, refused,
                )  # fmt: skip
        self.subscription_refused = "; ".join(refusals)

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
            wire.write(self._codec.pingreq)

    def _configure_socket(self, transport: asyncio.BaseTransport, wire: _Wire) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # asyncio turns TCP_NODELAY on; the setting may turn it off.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if self.config.tcp_nodelay else 0)
            if self.config.tcp_nodelay and _QUICKACK_AVAILABLE:
                wire.acknowledge_at_once(sock)


class _Broken(ConnectionError):
    """The connection broke, or stalled, while a batch was in flight."""


class _Refused(ConnectionError):
    """The broker did not accept the connection, or did not answer the subscription."""


def subscription_refusal(code: int, five: bool) -> str:
    """A SUBACK refusal for a person: the MQTT 5 reason code named, or 3.1.1's return code 128."""
    return reason_text(code) if five else f"return code {code}"


def tls_context(config: MqttConfig) -> ssl.SSLContext:
    """The TLS context, built at startup so that a missing or bad file is a setting error."""
    try:
        context = ssl.create_default_context(cafile=config.tls_ca or None)
        if config.tls_cert:
            context.load_cert_chain(config.tls_cert, config.tls_key)
    except (OSError, ssl.SSLError) as error:
        raise SettingsError(
            f"mqtt TLS settings (tls_ca {config.tls_ca!r}, tls_cert {config.tls_cert!r}, "
            f"tls_key {config.tls_key!r}) cannot be used: {error}"
        ) from None
    if config.tls_insecure:
        context.check_hostname = False
    return context
