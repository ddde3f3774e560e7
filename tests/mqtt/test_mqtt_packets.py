"""The event publisher's packets, byte for byte against MQTT 3.1.1 / 5.0 (the spec's own examples
where it gives them), and the parsing of what a broker sends back."""

from __future__ import annotations

import struct

import pytest
from titan_plugin_mqtt.packets import (
    ProtocolError,
    connect_packet,
    parse_ack,
    parse_connack,
    publish_packet,
    pubrel_packet,
    read_varint,
    split_packets,
    varint,
)


@pytest.mark.parametrize(
    ("value", "encoded"),
    # MQTT 5.0 §1.5.5, table 1-1: the edges of one to four bytes.
    [(0, b"\x00"), (127, b"\x7f"), (128, b"\x80\x01"), (16_383, b"\xff\x7f"), (16_384, b"\x80\x80\x01"),
     (2_097_151, b"\xff\xff\x7f"), (2_097_152, b"\x80\x80\x80\x01"), (268_435_455, b"\xff\xff\xff\x7f")],
)  # fmt: skip
def test_variable_byte_integers_round_trip(value: int, encoded: bytes) -> None:
    assert varint(value) == encoded
    assert read_varint(encoded, 0) == (value, len(encoded))


def test_a_five_byte_variable_byte_integer_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        read_varint(b"\x80\x80\x80\x80\x01", 0)


def test_connect_311_clean_session_no_credentials() -> None:
    packet = connect_packet("3.1.1", client_id="a", keepalive=60, clean=True, username=None, password=None)
    assert packet == b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01a"


def test_connect_5_with_credentials_and_session_expiry() -> None:
    packet = connect_packet(
        "5", client_id="id", keepalive=30, clean=False, username="u", password="pw", session_expiry=3600
    )
    body = (
        b"\x00\x04MQTT\x05\xc0\x00\x1e"  # level 5; user name + password flags, no clean start
        + b"\x05\x11" + struct.pack("!I", 3600)  # properties: Session Expiry Interval
        + b"\x00\x02id\x00\x01u\x00\x02pw"
    )  # fmt: skip
    assert packet == b"\x10" + bytes([len(body)]) + body


def test_publish_qos0_311_has_no_packet_id() -> None:
    assert publish_packet(b"a/b", b"x", 0, False, 0, None) == b"\x30\x06\x00\x03a/bx"


def test_publish_qos1_retained_311() -> None:
    assert publish_packet(b"a/b", b"x", 1, True, 10, None) == b"\x33\x08\x00\x03a/b\x00\x0ax"


def test_publish_qos2_5_with_properties() -> None:
    properties = b"\x01\x01"  # Payload Format Indicator: UTF-8
    packet = publish_packet(b"t", b"{}", 2, False, 0x1234, properties)
    assert packet == b"\x34\x0a\x00\x01t\x12\x34\x02\x01\x01{}"


def test_a_large_publish_gets_a_multi_byte_remaining_length() -> None:
    payload = b"p" * 200
    packet = publish_packet(b"t", payload, 1, False, 1, None)
    assert packet[:3] == b"\x32" + varint(2 + 1 + 2 + 200)
    assert packet.endswith(payload)


def test_pubrel_has_the_reserved_flags_0010() -> None:
    assert pubrel_packet(7) == b"\x62\x02\x00\x07"


def test_connack_311_accepted_and_refused() -> None:
    assert parse_connack(b"\x00\x00", "3.1.1").refusal == ""
    assert parse_connack(b"\x00\x05", "3.1.1").refusal == "not authorized"


def test_connack_5_reads_the_brokers_limits() -> None:
    properties = (
        b"\x21\x00\x14"  # Receive Maximum 20
        + b"\x27" + struct.pack("!I", 1024)  # Maximum Packet Size
        + b"\x24\x01"  # Maximum QoS 1
        + b"\x25\x00"  # Retain Available: no
        + b"\x13\x00\x0a"  # Server Keep Alive 10
        + b"\x12\x00\x03abc"  # Assigned Client Identifier (read and ignored)
    )  # fmt: skip
    connack = parse_connack(b"\x00\x00" + varint(len(properties)) + properties, "5")
    assert connack.refusal == ""
    assert (connack.receive_maximum, connack.maximum_packet_size, connack.maximum_qos) == (20, 1024, 1)
    assert connack.retain_available is False
    assert connack.server_keepalive == 10


def test_connack_5_refusal_names_the_reason_and_the_brokers_words() -> None:
    properties = b"\x1f\x00\x04nope"
    connack = parse_connack(b"\x00\x86" + varint(len(properties)) + properties, "5")
    assert connack.refusal == "reason code 0x86 bad user name or password (nope)"


def test_connack_5_with_an_unknown_property_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        parse_connack(b"\x00\x00\x02\x7f\x00", "5")


def test_acknowledgements_with_and_without_reason_codes() -> None:
    assert parse_ack(b"\x00\x0a") == (10, 0)  # 3.1.1, and MQTT 5 success in short form
    assert parse_ack(b"\x01\x00\x87\x00") == (256, 0x87)  # MQTT 5 not authorized
    with pytest.raises(ProtocolError):
        parse_ack(b"\x00")


def test_split_packets_keeps_an_incomplete_tail_for_the_next_read() -> None:
    stream = b"\x40\x02\x00\x01" + b"\xd0\x00" + b"\x40\x02\x00"  # PUBACK 1, PINGRESP, half a PUBACK
    packets, used = split_packets(bytearray(stream))
    assert packets == [(0x40, b"\x00\x01"), (0xD0, b"")]
    assert used == 6
    packets, used = split_packets(bytearray(stream[used:] + b"\x02"))
    assert packets == [(0x40, b"\x00\x02")] and used == 4


def test_split_packets_waits_for_a_remaining_length_cut_in_two() -> None:
    assert split_packets(bytearray(b"\x30\x80")) == ([], 0)
