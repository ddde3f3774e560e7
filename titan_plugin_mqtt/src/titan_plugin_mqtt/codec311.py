"""MQTT 3.1.1 packets, written here: `mqtt5` speaks only MQTT 5.

Why not a library: the maintained Python MQTT codecs are parts of clients (paho-mqtt, gmqtt, amqtt)
whose packet code cannot be called without their connection objects; the stand-alone
`mqtt-codec` has had no release since 2019. MQTT 3.1.1 has no properties and no reason codes, and
a client needs ten small packets of it (MQTT 3.1.1 §3): that is the whole of this module.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from titan_plugin_mqtt.codec import (
    PUBACK,
    PUBCOMP,
    PUBREC,
    PUBREL,
    Ack,
    ConnAck,
    ConnectRequest,
    Message,
    MessageProperties,
    PingResp,
    ProtocolError,
    Received,
    SubAck,
)

# Fixed-header types (the high nibble of the first byte).
_CONNACK = 2
_PUBLISH = 3
_SUBACK = 9
_PINGRESP = 13

_CONNACK_REFUSALS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}
_PING_RESP = PingResp()


class Mqtt311Codec:
    """MQTT 3.1.1 (protocol level 4)."""

    pingreq = b"\xc0\x00"
    disconnect = b"\xe0\x00"

    def connect(self, request: ConnectRequest) -> bytes:
        # session_expiry is MQTT 5's: a 3.1.1 session lasts until a clean connect ends it.
        username, password = request.username, request.password
        flags = (
            (0x80 if username is not None else 0)
            | (0x40 if password is not None else 0)
            | (0x02 if request.clean else 0)
        )
        body = (
            _utf8("MQTT")
            + bytes((4, flags))
            + struct.pack("!H", request.keepalive)
            + _utf8(request.client_id)
        )
        if username is not None:
            body += _utf8(username)
        if password is not None:
            body += _utf8(password)
        return b"\x10" + varint(len(body)) + body

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        packet_id: int,
        properties: MessageProperties | None,
    ) -> bytes:
        encoded = topic.encode()
        header = struct.pack("!H", len(encoded)) + encoded
        if qos:
            header += struct.pack("!H", packet_id)
        return bytes((0x30 | qos << 1 | retain,)) + varint(len(header) + len(payload)) + header + payload

    def acknowledge(self, kind: int, packet_id: int) -> bytes:
        # PUBREL has the reserved flags 0010 (§3.6.1); the others 0000.
        return bytes((kind << 4 | (2 if kind == PUBREL else 0), 2)) + struct.pack("!H", packet_id)

    def subscribe(self, packet_id: int, filters: Sequence[str], qos: int) -> bytes:
        body = struct.pack("!H", packet_id) + b"".join(_utf8(f) + bytes((qos,)) for f in filters)
        return b"\x82" + varint(len(body)) + body

    def read(self, buffer: bytearray) -> tuple[list[Received], int]:
        packets, used = split_packets(buffer)
        return [_received(first, body) for first, body in packets], used


def _received(first: int, body: bytes) -> Received:
    kind = first >> 4
    if kind in (PUBACK, PUBREC, PUBREL, PUBCOMP):
        if len(body) != 2:
            raise ProtocolError(f"acknowledgement of {len(body)} bytes")
        return Ack(kind, body[0] << 8 | body[1])
    if kind == _PUBLISH:
        return _message(first, body)
    if kind == _PINGRESP:
        return _PING_RESP
    if kind == _CONNACK:
        if len(body) != 2:
            raise ProtocolError(f"CONNACK of {len(body)} bytes")
        code = body[1]
        return ConnAck(_CONNACK_REFUSALS.get(code, f"return code {code}") if code else "")
    if kind == _SUBACK:
        if len(body) < 3:
            raise ProtocolError(f"SUBACK of {len(body)} bytes")
        return SubAck(body[0] << 8 | body[1], tuple(body[2:]))
    raise ProtocolError(f"unexpected packet type {kind} from the broker")


def _message(first: int, body: bytes) -> Message:
    qos = (first >> 1) & 3
    if qos == 3:
        raise ProtocolError("PUBLISH with QoS 3")
    if len(body) < 2:
        raise ProtocolError(f"PUBLISH of {len(body)} bytes")
    end = 2 + (body[0] << 8 | body[1])
    packet_id = 0
    if qos:
        packet_id = struct.unpack_from("!H", body, end)[0] if len(body) >= end + 2 else -1
        end += 2
    if len(body) < end or packet_id < 0:
        raise ProtocolError("PUBLISH shorter than its topic")
    try:
        topic = body[2 : end - (2 if qos else 0)].decode()
    except UnicodeDecodeError:
        raise ProtocolError("PUBLISH topic is not UTF-8") from None
    return Message(topic, body[end:], qos, bool(first & 1), packet_id)


def varint(value: int) -> bytes:
    """MQTT's Variable Byte Integer (the Remaining Length)."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def _utf8(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def split_packets(buffer: bytearray) -> tuple[list[tuple[int, bytes]], int]:
    """The complete packets at the start of `buffer` as (first byte, body), and the bytes they took."""
    packets: list[tuple[int, bytes]] = []
    position, size = 0, len(buffer)
    while position + 2 <= size:
        length, shift, cursor = 0, 0, position + 1
        while True:
            if cursor >= size:
                return packets, position
            byte = buffer[cursor]
            length |= (byte & 0x7F) << shift
            cursor += 1
            if not byte & 0x80:
                break
            shift += 7
            if shift > 21:
                raise ProtocolError("Remaining Length longer than four bytes")
        end = cursor + length
        if end > size:
            break
        packets.append((buffer[position], bytes(buffer[cursor:end])))
        position = end
    return packets, position
