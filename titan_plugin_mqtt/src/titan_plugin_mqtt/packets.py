"""The MQTT 3.1.1 / 5.0 control packets the event publisher sends and reads, as plain bytes.

Only what a publish-only client needs: CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP,
PINGREQ, PINGRESP and DISCONNECT (MQTT 3.1.1 §2-3, MQTT 5.0 §2-3). Encoding a PUBLISH is a few
byte joins: it runs for every event, so it does nothing else.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from titan_plugin_mqtt.config import Protocol

# Fixed-header types (the high nibble of the first byte).
CONNACK = 2
PUBLISH = 3
PUBACK = 4
PUBREC = 5
PUBREL = 6
PUBCOMP = 7
PINGRESP = 13
DISCONNECT = 14

PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"
# The largest Remaining Length MQTT can express (four varint bytes).
MAX_REMAINING_LENGTH = 268_435_455

# MQTT 5 property identifiers this client writes or reads (MQTT 5.0 §2.2.2.2).
_SESSION_EXPIRY_INTERVAL = 0x11
_SERVER_KEEP_ALIVE = 0x13
_MAXIMUM_QOS = 0x24
_RETAIN_AVAILABLE = 0x25
_RECEIVE_MAXIMUM = 0x21
_MAXIMUM_PACKET_SIZE = 0x27
_REASON_STRING = 0x1F
# Property identifier → how its value is laid out, for skipping the ones this client ignores.
_PROPERTY_LAYOUT = {
    0x01: "byte", 0x02: "int4", 0x03: "utf8", 0x08: "utf8", 0x09: "binary", 0x0B: "varint",
    0x11: "int4", 0x12: "utf8", 0x13: "int2", 0x15: "utf8", 0x16: "binary", 0x17: "byte",
    0x18: "int4", 0x19: "byte", 0x1A: "utf8", 0x1C: "utf8", 0x1F: "utf8", 0x21: "int2",
    0x22: "int2", 0x23: "int2", 0x24: "byte", 0x25: "byte", 0x26: "pair", 0x27: "int4",
    0x28: "byte", 0x29: "byte", 0x2A: "byte",
}  # fmt: skip

_CONNACK_3_REFUSALS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


# MQTT 5 reason codes of refusals (MQTT 5.0 §2.4), for messages a person reads.
_REASON_NAMES = {
    0x80: "unspecified error", 0x81: "malformed packet", 0x82: "protocol error",
    0x83: "implementation specific error", 0x84: "unsupported protocol version",
    0x85: "client identifier not valid", 0x86: "bad user name or password", 0x87: "not authorized",
    0x88: "server unavailable", 0x89: "server busy", 0x8A: "banned", 0x8C: "bad authentication method",
    0x90: "topic name invalid", 0x93: "receive maximum exceeded", 0x95: "packet too large",
    0x97: "quota exceeded", 0x99: "payload format invalid", 0x9A: "retain not supported",
    0x9B: "QoS not supported", 0x9C: "use another server", 0x9D: "server moved",
    0x9F: "connection rate exceeded",
}  # fmt: skip


def reason_text(code: int) -> str:
    """`0x87 not authorized`: an MQTT 5 reason code with its name."""
    name = _REASON_NAMES.get(code)
    return f"0x{code:02x} {name}" if name else f"0x{code:02x}"


class ProtocolError(ValueError):
    """The broker sent something this client cannot read; the connection is dropped."""


def varint(value: int) -> bytes:
    """MQTT's Variable Byte Integer (Remaining Length, property lengths)."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def _utf8(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def _binary(data: bytes) -> bytes:
    return struct.pack("!H", len(data)) + data


def connect_packet(
    protocol: Protocol,
    *,
    client_id: str,
    keepalive: int,
    clean: bool,
    username: str | None,
    password: str | None,
    session_expiry: int = 0,
) -> bytes:
    flags = (
        (0x80 if username is not None else 0) | (0x40 if password is not None else 0) | (0x02 if clean else 0)
    )
    header = _utf8("MQTT") + bytes((5 if protocol == "5" else 4, flags)) + struct.pack("!H", keepalive)
    if protocol == "5":
        properties = (
            bytes((_SESSION_EXPIRY_INTERVAL,)) + struct.pack("!I", session_expiry) if session_expiry else b""
        )
        header += varint(len(properties)) + properties
    payload = _utf8(client_id)
    if username is not None:
        payload += _utf8(username)
    if password is not None:
        payload += _binary(password.encode())
    body = header + payload
    return b"\x10" + varint(len(body)) + body


def publish_packet(
    topic: bytes, payload: bytes, qos: int, retain: bool, packet_id: int, properties: bytes | None
) -> bytes:
    """One PUBLISH. `properties` is the encoded MQTT 5 property block (None for MQTT 3.1.1)."""
    header = struct.pack("!H", len(topic)) + topic
    if qos:
        header += struct.pack("!H", packet_id)
    if properties is not None:
        header += varint(len(properties)) + properties
    return bytes((0x30 | qos << 1 | retain,)) + varint(len(header) + len(payload)) + header + payload


def pubrel_packet(packet_id: int) -> bytes:
    return b"\x62\x02" + struct.pack("!H", packet_id)


@dataclass(frozen=True)
class ConnAck:
    """What the broker granted; None where it did not say (MQTT 3.1.1 says none of it)."""

    refusal: str  # "" when the connection was accepted
    receive_maximum: int | None = None
    maximum_packet_size: int | None = None
    maximum_qos: int | None = None
    retain_available: bool = True
    server_keepalive: int | None = None


def parse_connack(body: bytes, protocol: Protocol) -> ConnAck:
    if len(body) < 2:
        raise ProtocolError(f"CONNACK of {len(body)} bytes")
    code = body[1]
    if protocol != "5":
        return ConnAck(_CONNACK_3_REFUSALS.get(code, f"return code {code}") if code else "")
    properties = _properties(body, 2) if len(body) > 2 else {}
    refusal = ""
    if code >= 0x80:
        reason = properties.get(_REASON_STRING)
        refusal = f"reason code {reason_text(code)}" + (
            f" ({reason})" if isinstance(reason, str) and reason else ""
        )
    retain = properties.get(_RETAIN_AVAILABLE, 1)
    return ConnAck(
        refusal,
        receive_maximum=_int_or_none(properties.get(_RECEIVE_MAXIMUM)),
        maximum_packet_size=_int_or_none(properties.get(_MAXIMUM_PACKET_SIZE)),
        maximum_qos=_int_or_none(properties.get(_MAXIMUM_QOS)),
        retain_available=bool(retain),
        server_keepalive=_int_or_none(properties.get(_SERVER_KEEP_ALIVE)),
    )


def parse_ack(body: bytes) -> tuple[int, int]:
    """Packet id and reason code of a PUBACK, PUBREC or PUBCOMP (reason 0 where MQTT 3.1.1 has none)."""
    if len(body) < 2:
        raise ProtocolError(f"acknowledgement of {len(body)} bytes")
    return (body[0] << 8) | body[1], body[2] if len(body) > 2 else 0


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


def _properties(body: bytes, offset: int) -> dict[int, int | str | bytes]:
    length, offset = read_varint(body, offset)
    end = offset + length
    found: dict[int, int | str | bytes] = {}
    while offset < end:
        identifier, offset = read_varint(body, offset)
        layout = _PROPERTY_LAYOUT.get(identifier)
        if layout is None:
            raise ProtocolError(f"unknown MQTT 5 property 0x{identifier:02x}")
        value: int | str | bytes
        if layout == "byte":
            value, offset = body[offset], offset + 1
        elif layout == "int2":
            value, offset = struct.unpack_from("!H", body, offset)[0], offset + 2
        elif layout == "int4":
            value, offset = struct.unpack_from("!I", body, offset)[0], offset + 4
        elif layout == "varint":
            value, offset = read_varint(body, offset)
        else:
            count = 2 if layout == "pair" else 1
            parts = []
            for _ in range(count):
                size = struct.unpack_from("!H", body, offset)[0]
                parts.append(body[offset + 2 : offset + 2 + size])
                offset += 2 + size
            value = parts[0].decode(errors="replace") if layout == "utf8" else parts[-1]
        found[identifier] = value
    if offset != end:
        raise ProtocolError("MQTT 5 properties overrun their length")
    return found


def read_varint(body: bytes, offset: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if offset >= len(body):
            raise ProtocolError("truncated Variable Byte Integer")
        byte = body[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, offset
        shift += 7
        if shift > 21:
            raise ProtocolError("Variable Byte Integer longer than four bytes")


def _int_or_none(value: int | str | bytes | None) -> int | None:
    return value if isinstance(value, int) else None
