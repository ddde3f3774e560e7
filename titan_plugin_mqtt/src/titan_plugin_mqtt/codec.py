"""What the MQTT client (client.py) sends and reads, independent of the protocol version.

The client speaks to a `Codec`: MQTT 5 packets are encoded and decoded by the `mqtt5` library
(codec5.py, a sans-I/O codec written in Rust); MQTT 3.1.1, which `mqtt5` does not speak, by the
few packets of codec311.py. What the broker sends comes back as the small types below, so that the
client never looks at bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol as TypingProtocol

from titan_plugin_mqtt.config import Protocol

# Control packet types (MQTT 3.1.1 and 5.0 §2.1.2) the client tells apart in an `Ack`.
PUBACK = 4
PUBREC = 5
PUBREL = 6
PUBCOMP = 7


class ProtocolError(ValueError):
    """The broker sent something this client cannot read; the connection is dropped."""


@dataclass(frozen=True)
class MessageProperties:
    """The MQTT 5 PUBLISH properties Titan writes and reads (MQTT 3.1.1 carries none of them).

    One object is shared by every message that has the same properties (the sink's events), so
    that a codec may cache what it derives from it.
    """

    content_type: str | None = None
    payload_format_indicator: int = 0  # 1: the payload is UTF-8 text
    response_topic: str | None = None
    correlation_data: bytes | None = None


@dataclass(frozen=True)
class ConnAck:
    """What the broker granted; None where it did not say (MQTT 3.1.1 says none of it)."""

    refusal: str  # "" when the connection was accepted
    receive_maximum: int | None = None
    maximum_packet_size: int | None = None
    maximum_qos: int | None = None
    retain_available: bool = True
    server_keepalive: int | None = None


@dataclass(slots=True)  # not frozen: one per published message, and frozen costs 3 times as much
class Ack:
    """A PUBACK, PUBREC, PUBREL or PUBCOMP: its type, packet id and reason code (0 in MQTT 3.1.1)."""

    kind: int
    packet_id: int
    reason: int = 0


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    """What a CONNECT asks for, in either protocol version (each codec writes what its version has)."""

    client_id: str
    keepalive: int
    clean: bool
    username: str | None
    password: str | None
    # MQTT 5's Session Expiry Interval; a 3.1.1 session lasts until a clean connect ends it.
    session_expiry: int


@dataclass(frozen=True, slots=True)
class SubAck:
    """The broker's answer to SUBSCRIBE: per topic filter, the granted QoS or a refusal (>= 0x80)."""

    packet_id: int
    codes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Message:
    """A PUBLISH the broker delivered to this client (a subscription matched)."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    packet_id: int  # 0 at QoS 0
    properties: MessageProperties | None = None


@dataclass(frozen=True, slots=True)
class Disconnect:
    """The broker closes the connection (MQTT 5), with its reason code."""

    reason: int


class PingResp:
    """The answer to PINGREQ: nothing to do beyond noting that the broker is alive."""


Received = ConnAck | Ack | SubAck | Message | Disconnect | PingResp


class Codec(TypingProtocol):
    """Encodes the packets a client sends and decodes what a broker sends, for one protocol version."""

    pingreq: bytes
    disconnect: bytes

    def connect(self, request: ConnectRequest) -> bytes: ...

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        packet_id: int,
        properties: MessageProperties | None,
    ) -> bytes: ...

    def acknowledge(self, kind: int, packet_id: int) -> bytes:
        """PUBACK, PUBREC, PUBREL or PUBCOMP for `packet_id`, success."""
        ...

    def subscribe(self, packet_id: int, filters: Sequence[str], qos: int) -> bytes: ...

    def read(self, buffer: bytearray) -> tuple[list[Received], int]:
        """The complete packets at the start of `buffer`, and how many bytes they took."""
        ...


# MQTT 5 reason codes of refusals (MQTT 5.0 §2.4), for messages a person reads.
_REASON_NAMES = {
    0x80: "unspecified error", 0x81: "malformed packet", 0x82: "protocol error",
    0x83: "implementation specific error", 0x84: "unsupported protocol version",
    0x85: "client identifier not valid", 0x86: "bad user name or password", 0x87: "not authorized",
    0x88: "server unavailable", 0x89: "server busy", 0x8A: "banned", 0x8B: "server shutting down",
    0x8C: "bad authentication method", 0x8D: "keep alive timeout", 0x8E: "session taken over",
    0x8F: "topic filter invalid", 0x90: "topic name invalid", 0x93: "receive maximum exceeded",
    0x95: "packet too large", 0x97: "quota exceeded", 0x99: "payload format invalid",
    0x9A: "retain not supported", 0x9B: "QoS not supported", 0x9C: "use another server",
    0x9D: "server moved", 0x9E: "shared subscriptions not supported", 0x9F: "connection rate exceeded",
    0xA2: "wildcard subscriptions not supported",
}  # fmt: skip


def reason_text(code: int) -> str:
    """`0x87 not authorized`: an MQTT 5 reason code with its name."""
    name = _REASON_NAMES.get(code)
    return f"0x{code:02x} {name}" if name else f"0x{code:02x}"


def codec_for(protocol: Protocol) -> Codec:
    """The codec of the configured protocol version."""
    if protocol == "5":
        from titan_plugin_mqtt.codec5 import Mqtt5Codec

        return Mqtt5Codec()
    from titan_plugin_mqtt.codec311 import Mqtt311Codec

    return Mqtt311Codec()
