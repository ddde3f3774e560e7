"""The write-back connection (aiomqtt): subscribe, take device writes, publish their answers.

One background task owns the connection for the life of the app, reconnecting with exponential
backoff. Answers never connect on their own: they wait (briefly) for the task's connection and fail
fast when there is none. Every state change is logged once, in one clear line. Events go out on
the event publisher (publisher.py), a connection of their own; `Outgoing` and `PublishFailed`
serve both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiomqtt
from paho.mqtt.client import MQTT_CLEAN_START_FIRST_ONLY
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from titan_core.settings import SettingsError
from titan_plugin_mqtt.config import MqttConfig
from titan_plugin_mqtt.link import LinkState, default_client_id

log = logging.getLogger(__name__)

# Incoming packets read per wake-up of the socket (see read_every_waiting_packet).
_PACKETS_PER_WAKEUP = 64
# Publishes started per turn of the event loop (each costs some 50-100 µs of CPU in paho and aiomqtt).
_PUBLISHES_PER_TURN = 16

MessageHandler = Callable[[aiomqtt.Message], Awaitable[None]]


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
    properties: Properties | None = None


class MqttConnection(LinkState):
    """The write-back connection of an app: its subscription, incoming messages, published answers."""

    def __init__(
        self, config: MqttConfig, *, subscriptions: Sequence[str], on_message: MessageHandler
    ) -> None:
        client_id = config.client_id or default_client_id()
        super().__init__(config, client_id=client_id, role="MQTT connection")
        self.subscriptions = tuple(subscriptions)
        self._on_message = on_message
        self._tls_context = tls_context(config) if config.tls else None
        self._client: aiomqtt.Client | None = None
        self._lost: asyncio.Future[None] | None = None
        # Why the broker refused the write-back subscription ("" when it granted it).
        self.subscription_refused = ""
        # The incoming-message queue of the current client (aiomqtt's `queue_type` hook).
        self._incoming: asyncio.Queue[aiomqtt.Message] | None = None

    async def wait_connected(self, timeout: float) -> aiomqtt.Client:
        """The connected client; `NotConnected` if there is none within `timeout` seconds."""
        while True:
            await self.wait_up(timeout)
            if self._client is not None:
                return self._client

    async def publish_many(self, messages: Sequence[Outgoing], *, timeout: float) -> None:
        """Publish `messages` in order and wait until the broker has acknowledged each (QoS 1/2).

        The messages go out pipelined on the one connection, so the broker sees them in this
        order. Raises `NotConnected` before anything went out, or `PublishFailed` saying how many
        of the first messages were acknowledged when the connection broke.
        """
        if not messages:
            return
        client = await self.wait_connected(self.config.connect_wait)
        lost = self._lost
        assert lost is not None
        publishes: list[asyncio.Future[None]] = []
        try:
            for start in range(0, len(messages), _PUBLISHES_PER_TURN):
                if lost.done():
                    break
                if start:
                    # Let the loop run other work (REST requests) between chunks: packing and
                    # sending a whole batch at once would hold it for milliseconds.
                    await asyncio.sleep(0)
                publishes += [
                    asyncio.ensure_future(
                        client.publish(m.topic, m.payload, m.qos, m.retain, m.properties, timeout=timeout)
                    )
                    for m in messages[start : start + _PUBLISHES_PER_TURN]
                ]
        except asyncio.CancelledError:
            for publish in publishes:
                publish.cancel()
            raise
        every = asyncio.gather(*publishes)
        waited: set[asyncio.Future[Any]] = {every, lost}
        try:
            await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            every.cancel()
            raise
        if (
            len(publishes) == len(messages)
            and every.done()
            and not every.cancelled()
            and every.exception() is None
        ):
            return
        every.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await every
        acknowledged = 0
        for publish in publishes:
            if not publish.done() or publish.cancelled() or publish.exception() is not None:
                break
            acknowledged += 1
        failure = next(
            (p.exception() for p in publishes if p.done() and not p.cancelled() and p.exception()), None
        )
        reason = f"{type(failure).__name__}: {failure}" if failure else f"connection lost ({self.last_error})"
        raise PublishFailed(
            f"{len(messages) - acknowledged} of {len(messages)} messages not acknowledged by "
            f"{self.address.display}: {reason}",
            acknowledged,
        )

    async def publish(self, message: Outgoing, *, timeout: float = 10.0) -> None:
        await self.publish_many([message], timeout=timeout)

    # ------------------------------------------------------------------ the connection task

    async def _run(self) -> None:
        while True:
            client = self._new_client()
            try:
                async with client:
                    await self._serve(client)
            except asyncio.CancelledError:
                self._set_disconnected("Titan is stopping", expected=True)
                raise
            except aiomqtt.MqttError as error:
                self._set_disconnected(_reason(error))
            except Exception as error:  # a bug here must not end reconnecting for good
                log.exception("MQTT connection to %s failed unexpectedly", self.address.display)
                self._set_disconnected(f"{type(error).__name__}: {error}")
            await self.pause_before_reconnecting()

    async def _serve(self, client: aiomqtt.Client) -> None:
        # Published replies and events of one batch may be many; aiomqtt warns above this.
        client.pending_calls_threshold = self.config.max_inflight + 100
        refusals = []
        for subscription in self.subscriptions:
            refused = _refusal(await client.subscribe(subscription, qos=1))
            if refused:
                refusals.append(f"{subscription}: {refused}")
                log.error(
                    "the MQTT broker %s refused the write-back subscription %s (%s): device writes will not "
                    "reach Titan; check the broker's ACL for Titan's user, or its support of $share/ "
                    "(setting shared_group)",
                    self.address.display, subscription, refused,
                )  # fmt: skip
        self.subscription_refused = "; ".join(refusals)
        self._lost = asyncio.get_running_loop().create_future()
        self._client = client
        self.set_connected()
        log.info(
            "connected to MQTT broker %s (%s, client id %s, %s session)%s",
            self.address.display, self.protocol_label, self.client_id,
            "clean" if self.config.clean_session else "persistent",
            f"; write-back subscribed to {', '.join(self.subscriptions)}" if self.subscriptions else "",
        )  # fmt: skip
        async for message in client.messages:
            await self._on_message(message)
            # aiomqtt hands out one message per turn of the event loop; take the others already
            # here at once, so that a burst of device writes reaches the group commit together.
            waiting = self._incoming
            while waiting is not None and not waiting.empty():
                await self._on_message(waiting.get_nowait())
        raise aiomqtt.MqttError("the message stream ended")

    def _set_disconnected(self, reason: str, *, expected: bool = False) -> None:
        self._client = None
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        self.set_disconnected(reason, expected=expected)

    def _new_client(self) -> aiomqtt.Client:
        config = self.config
        username = config.username or self.address.username or None
        password = config.password or self.address.password or None
        socket_options = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if config.tcp_nodelay else 0)]
        # Only the session arguments differ between MQTT 5 and 3.1.1.
        session: dict[str, Any]
        if config.protocol == "5":
            properties = new_properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = 0 if config.clean_session else config.session_expiry
            session = {
                "protocol": aiomqtt.ProtocolVersion.V5,
                "clean_start": config.clean_session,
                "properties": properties,
            }
        else:
            session = {
                "protocol": aiomqtt.ProtocolVersion.V311,
                "clean_session": config.clean_session,
                "clean_start": MQTT_CLEAN_START_FIRST_ONLY,
            }
        connection = self

        class Incoming(asyncio.Queue[aiomqtt.Message]):
            def __init__(self, maxsize: int = 0) -> None:
                super().__init__(maxsize)
                connection._incoming = self

        client = aiomqtt.Client(
            self.address.host,
            self.address.port,
            username=username,
            password=password,
            identifier=self.client_id,
            keepalive=config.keepalive,
            max_inflight_messages=config.max_inflight,
            tls_context=self._tls_context,
            tls_insecure=config.tls_insecure if self._tls_context else None,
            socket_options=socket_options,
            queue_type=Incoming,
            timeout=10,
            **session,
        )
        read_every_waiting_packet(client)
        return client


def read_every_waiting_packet(client: aiomqtt.Client) -> None:
    """Make each socket wake-up read every complete packet waiting, not one.

    aiomqtt calls paho's `loop_read` once per readiness of the socket, and paho then reads one
    packet (one more per message it has in flight). A burst of device writes thus arrived one per
    turn of the event loop, and each became a transaction of its own: the group commit never saw
    two writes at once. Read on while the socket has data, up to a bound that keeps one turn short.
    """
    paho = client._client  # aiomqtt's paho client: the reader callback looks its loop_read up on it
    read_some = paho.loop_read

    def read_waiting(max_packets: int = 1) -> MQTTErrorCode:
        code = read_some(max_packets)
        for _ in range(_PACKETS_PER_WAKEUP - 1):
            sock = paho.socket()
            # (paho's websocket transport is no socket: it keeps one packet per wake-up)
            if (
                code != MQTTErrorCode.MQTT_ERR_SUCCESS
                or not isinstance(sock, socket.socket)
                or not _readable(sock)
            ):
                break
            code = read_some(max_packets)
        return code

    paho.loop_read = read_waiting  # type: ignore[method-assign]


def _readable(sock: socket.socket) -> bool:
    if isinstance(sock, ssl.SSLSocket) and sock.pending() > 0:
        return True  # TLS: decrypted bytes already buffered
    return bool(select.select([sock], [], [], 0)[0])


def new_properties(packet_type: int) -> Properties:
    """An empty MQTT 5 property set for one packet type (paho's constructor is untyped)."""
    return Properties(packet_type)  # type: ignore[no-untyped-call]


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


def _refusal(granted: object) -> str:
    """The broker's reason for refusing a subscription, from SUBACK ("" when it was granted).

    MQTT 5 answers with reason codes (0x80 and above refuse); 3.1.1 with granted QoS values (128
    refuses).
    """
    for code in granted if isinstance(granted, list | tuple) else ():
        value = getattr(code, "value", code)
        if isinstance(value, int) and value >= 0x80:
            return code.getName() if hasattr(code, "getName") else f"return code {value}"
    return ""


def _reason(error: aiomqtt.MqttError) -> str:
    text = str(error) or type(error).__name__
    cause = error.__cause__
    if cause is not None and str(cause) and str(cause) not in text:
        text += f" ({cause})"
    return text
