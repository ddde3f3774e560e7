"""The client's codecs, byte for byte against MQTT 3.1.1 / 5.0 (the spec's own examples where it
gives them): codec311.py written here, codec5.py on the `mqtt5` library."""

from __future__ import annotations

import struct

import pytest
from titan_plugin_mqtt.codec import (
    PUBACK,
    PUBCOMP,
    PUBREC,
    PUBREL,
    Ack,
    ConnAck,
    ConnectRequest,
    Disconnect,
    Message,
    MessageProperties,
    PingResp,
    ProtocolError,
    SubAck,
)
from titan_plugin_mqtt.codec5 import Mqtt5Codec
from titan_plugin_mqtt.codec311 import Mqtt311Codec, split_packets, varint

V311 = Mqtt311Codec()
V5 = Mqtt5Codec()
# The two CONNECTs both versions are checked with: a clean session without credentials, and a
# persistent one with user name, password and (MQTT 5 only) a session expiry.
CLEAN = ConnectRequest(
    client_id="a", keepalive=60, clean=True, username=None, password=None, session_expiry=0
)
PERSISTENT = ConnectRequest(
    client_id="id", keepalive=30, clean=False, username="u", password="pw", session_expiry=3600
)


@pytest.mark.parametrize(
    ("value", "encoded"),
    # MQTT 5.0 §1.5.5, table 1-1: the edges of one to four bytes.
    [(0, b"\x00"), (127, b"\x7f"), (128, b"\x80\x01"), (16_383, b"\xff\x7f"), (16_384, b"\x80\x80\x01"),
     (2_097_151, b"\xff\xff\x7f"), (2_097_152, b"\x80\x80\x80\x01"), (268_435_455, b"\xff\xff\xff\x7f")],
)  # fmt: skip
def test_variable_byte_integers(value: int, encoded: bytes) -> None:
    assert varint(value) == encoded


# MQTT 3.1.1 ------------------------------------------------------------------------------------


def test_connect_311_clean_session_no_credentials() -> None:
    packet = V311.connect(CLEAN)
    assert packet == b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01a"


def test_connect_311_persistent_with_credentials() -> None:
    packet = V311.connect(PERSISTENT)
    assert packet == b"\x10\x15\x00\x04MQTT\x04\xc0\x00\x1e\x00\x02id\x00\x01u\x00\x02pw"


def test_publish_qos0_311_has_no_packet_id() -> None:
    assert V311.publish("a/b", b"x", 0, False, 0, None) == b"\x30\x06\x00\x03a/bx"


def test_publish_qos1_retained_311_ignores_properties() -> None:
    properties = MessageProperties(content_type="text/plain")
    assert V311.publish("a/b", b"x", 1, True, 10, properties) == b"\x33\x08\x00\x03a/b\x00\x0ax"


def test_a_large_publish_gets_a_multi_byte_remaining_length() -> None:
    payload = b"p" * 200
    packet = V311.publish("t", payload, 1, False, 1, None)
    assert packet[:3] == b"\x32" + varint(2 + 1 + 2 + 200)
    assert packet.endswith(payload)


def test_acknowledgements_311_and_pubrel_has_the_reserved_flags_0010() -> None:
    assert V311.acknowledge(PUBACK, 7) == b"\x40\x02\x00\x07"
    assert V311.acknowledge(PUBREC, 7) == b"\x50\x02\x00\x07"
    assert V311.acknowledge(PUBREL, 7) == b"\x62\x02\x00\x07"
    assert V311.acknowledge(PUBCOMP, 7) == b"\x70\x02\x00\x07"


def test_subscribe_311() -> None:
    # MQTT 3.1.1 §3.8.3: packet id, then each filter with its requested QoS; flags 0010.
    assert V311.subscribe(10, ["a/b", "c/#"], 1) == b"\x82\x0e\x00\x0a\x00\x03a/b\x01\x00\x03c/#\x01"


def test_read_311_connack_suback_publish_and_acks() -> None:
    stream = (
        b"\x20\x02\x00\x05"  # CONNACK: not authorized
        + b"\x90\x04\x00\x01\x01\x80"  # SUBACK: QoS 1 granted, one refused
        + b"\x34\x09\x00\x03a/b\x00\x0b{}"  # PUBLISH QoS 2, id 11
        + b"\x31\x06\x00\x03a/bz"  # PUBLISH QoS 0, retained
        + b"\x50\x02\x00\x0c"  # PUBREC 12
        + b"\xd0\x00"  # PINGRESP
    )  # fmt: skip
    received, used = V311.read(bytearray(stream))
    assert used == len(stream)
    assert received[:5] == [
        ConnAck("not authorized"),
        SubAck(1, (1, 0x80)),
        Message("a/b", b"{}", 2, False, 11),
        Message("a/b", b"z", 0, True, 0),
        Ack(PUBREC, 12),
    ]
    assert isinstance(received[5], PingResp)


def test_read_311_refuses_what_it_cannot_read() -> None:
    for bad in (b"\x36\x02\x00\x00", b"\x40\x03\x00\x01\x00", b"\x20\x01\x00", b"\x32\x04\x00\x05ab"):
        with pytest.raises(ProtocolError):
            V311.read(bytearray(bad))


def test_split_packets_keeps_an_incomplete_tail_for_the_next_read() -> None:
    stream = b"\x40\x02\x00\x01" + b"\xd0\x00" + b"\x40\x02\x00"  # PUBACK 1, PINGRESP, half a PUBACK
    packets, used = split_packets(bytearray(stream))
    assert packets == [(0x40, b"\x00\x01"), (0xD0, b"")]
    assert used == 6
    packets, used = split_packets(bytearray(stream[used:] + b"\x02"))
    assert packets == [(0x40, b"\x00\x02")] and used == 4


def test_split_packets_waits_for_a_remaining_length_cut_in_two() -> None:
    assert split_packets(bytearray(b"\x30\x80")) == ([], 0)


def test_a_five_byte_remaining_length_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        split_packets(bytearray(b"\x30\x80\x80\x80\x80\x01"))


# MQTT 5 (mqtt5) ---------------------------------------------------------------------------------


def test_connect_5_with_credentials_and_session_expiry() -> None:
    packet = V5.connect(PERSISTENT)
    body = (
        b"\x00\x04MQTT\x05\xc0\x00\x1e"  # level 5; user name + password flags, no clean start
        + b"\x05\x11" + struct.pack("!I", 3600)  # properties: Session Expiry Interval
        + b"\x00\x02id\x00\x01u\x00\x02pw"
    )  # fmt: skip
    assert packet == b"\x10" + bytes([len(body)]) + body


def test_connect_5_clean_start_without_session_expiry() -> None:
    packet = V5.connect(CLEAN)
    assert packet == b"\x10\x0e\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x01a"


def test_publish_5_qos0_and_qos2_with_the_event_properties() -> None:
    assert V5.publish("a/b", b"x", 0, False, 0, None) == b"\x30\x07\x00\x03a/b\x00x"
    properties = MessageProperties(content_type="a/b", payload_format_indicator=1)
    packet = V5.publish("t", b"{}", 2, True, 0x1234, properties)
    # Payload Format Indicator 1 and Content Type "a/b", in either order (MQTT 5 §2.2.2.2).
    block = {b"\x01\x01\x03\x00\x03a/b", b"\x03\x00\x03a/b\x01\x01"}
    assert packet[:6] == b"\x35\x10\x00\x01t\x12" and packet[6:8] == b"\x34\x08"
    assert packet[8:16] in block and packet[16:] == b"{}"


def test_publish_5_round_trips_the_request_response_properties() -> None:
    properties = MessageProperties(
        content_type="application/json", response_topic="titan/reply/x", correlation_data=b"\x00req"
    )
    packet = V5.publish("titan/element/e/p/value", b"23.5", 1, False, 9, properties)
    received, used = V5.read(bytearray(packet))
    assert used == len(packet)
    assert received == [Message("titan/element/e/p/value", b"23.5", 1, False, 9, properties)]


def test_acknowledgements_5_in_the_short_form_of_success() -> None:
    assert V5.acknowledge(PUBACK, 7) == b"\x40\x02\x00\x07"
    assert V5.acknowledge(PUBREL, 7) == b"\x62\x02\x00\x07"
    assert V5.acknowledge(PUBCOMP, 7) == b"\x70\x02\x00\x07"


def test_subscribe_5_asks_qos_1_without_retain_as_published() -> None:
    # MQTT 5 §3.8.3.1: options byte = maximum QoS 1, No Local 0, Retain As Published 0, handling 0.
    assert V5.subscribe(1, ["a/#"], 1) == b"\x82\x09\x00\x01\x00\x00\x03a/#\x01"


def test_read_5_the_brokers_limits_from_connack() -> None:
    properties = (
        b"\x21\x00\x14"  # Receive Maximum 20
        + b"\x27" + struct.pack("!I", 1024)  # Maximum Packet Size
        + b"\x24\x01"  # Maximum QoS 1
        + b"\x25\x00"  # Retain Available: no
        + b"\x13\x00\x0a"  # Server Keep Alive 10
        + b"\x12\x00\x03abc"  # Assigned Client Identifier (read and ignored)
    )  # fmt: skip
    body = b"\x00\x00" + varint(len(properties)) + properties
    (connack,), _ = V5.read(bytearray(b"\x20" + varint(len(body)) + body))
    assert connack == ConnAck("", receive_maximum=20, maximum_packet_size=1024, maximum_qos=1,
                              retain_available=False, server_keepalive=10)  # fmt: skip


def test_read_5_a_refused_connack_names_the_reason_and_the_brokers_words() -> None:
    properties = b"\x1f\x00\x04nope"
    body = b"\x00\x86" + varint(len(properties)) + properties
    (connack,), _ = V5.read(bytearray(b"\x20" + varint(len(body)) + body))
    assert isinstance(connack, ConnAck)
    assert connack.refusal == "reason code 0x86 bad user name or password (nope)"


def test_read_5_acknowledgements_with_and_without_reason_codes() -> None:
    stream = b"\x40\x02\x00\x0a" + b"\x40\x04\x01\x00\x87\x00" + b"\x50\x03\x00\x02\x10" + b"\xe0\x01\x8b"
    received, used = V5.read(bytearray(stream))
    assert used == len(stream)
    assert received == [Ack(PUBACK, 10, 0), Ack(PUBACK, 256, 0x87), Ack(PUBREC, 2, 0x10), Disconnect(0x8B)]


def test_read_5_keeps_an_incomplete_tail_for_the_next_read() -> None:
    buffer = bytearray(b"\x40\x02\x00\x01\x90\x04\x00\x01")  # PUBACK 1, then half a SUBACK
    received, used = V5.read(buffer)
    assert (received, used) == ([Ack(PUBACK, 1)], 4)
    received, used = V5.read(bytearray(buffer[used:] + b"\x00\x9e"))
    assert received == [SubAck(1, (0x9E,))] and used == 6


def test_read_5_a_malformed_packet_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        V5.read(bytearray(b"\x20\x03\x00\x00\x02\x7f\x00"))  # CONNACK with an unknown property 0x7f
