"""MQTT 5 packets through `mqtt5`, a sans-I/O codec written in Rust (PyPI `mqtt5`).

It encodes a PUBLISH with its properties in about the time the hand-written Python encoder took for
the bytes alone (docs/performance.md, "MQTT"), and decodes every packet a broker sends. This module
only maps between its packet objects and the client's own types (codec.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import mqtt5

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
    Received,
    SubAck,
    reason_text,
)

_QOS = (mqtt5.QoS.AT_MOST_ONCE, mqtt5.QoS.AT_LEAST_ONCE, mqtt5.QoS.EXACTLY_ONCE)
_ACK_CLASS = {
    PUBACK: mqtt5.PubAckPacket,
    PUBREC: mqtt5.PubRecPacket,
    PUBREL: mqtt5.PubRelPacket,
    PUBCOMP: mqtt5.PubCompPacket,
}
_ACK_KIND: dict[type, int] = {cls: kind for kind, cls in _ACK_CLASS.items()}
_PING_RESP = PingResp()
_AckPacket = mqtt5.PubAckPacket | mqtt5.PubRecPacket | mqtt5.PubRelPacket | mqtt5.PubCompPacket


class Mqtt5Codec:
    """MQTT 5.0 through `mqtt5`."""

    pingreq = mqtt5.PingReqPacket().write()
    disconnect = mqtt5.DisconnectPacket().write()

    def connect(self, request: ConnectRequest) -> bytes:
        return mqtt5.ConnectPacket(
            request.client_id,
            username=request.username,
            password=None if request.password is None else request.password.encode(),
            clean_start=request.clean,
            keep_alive=request.keepalive,
            session_expiry_interval=request.session_expiry,
        ).write()

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        packet_id: int,
        properties: MessageProperties | None,
    ) -> bytes:
        if properties is None:
            return mqtt5.PublishPacket(
                topic, payload, qos=_QOS[qos], retain=retain, packet_id=packet_id or None
            ).write()
        return mqtt5.PublishPacket(
            topic,
            payload,
            qos=_QOS[qos],
            retain=retain,
            packet_id=packet_id or None,
            content_type=properties.content_type,
            payload_format_indicator=properties.payload_format_indicator,
            response_topic=properties.response_topic,
            correlation_data=properties.correlation_data,
        ).write()

    def acknowledge(self, kind: int, packet_id: int) -> bytes:
        packet: bytes = _ACK_CLASS[kind](packet_id).write()
        return packet

    def subscribe(self, packet_id: int, filters: Sequence[str], qos: int) -> bytes:
        # Retain As Published off: a retained write replayed on subscribe keeps its retain flag,
        # everything else arrives unretained, which is how write-back tells old from new.
        topic_filters = [mqtt5.TopicFilter(f, max_qos=_QOS[qos], retain_as_published=False) for f in filters]
        return mqtt5.SubscribePacket(packet_id, topic_filters).write()

    def read(self, buffer: bytearray) -> tuple[list[Received], int]:
        received: list[Received] = []
        position, size = 0, len(buffer)
        with memoryview(buffer) as view:
            while position < size:
                try:
                    packet, used = mqtt5.read(view[position:])
                except IndexError:  # an incomplete packet: wait for more bytes
                    break
                except ValueError as error:
                    raise ProtocolError(str(error)) from None
                if type(packet) is mqtt5.PubAckPacket:  # one per published message: the short way
                    received.append(Ack(PUBACK, packet.packet_id, int(packet.reason_code)))
                else:
                    received.append(_received(packet))
                position += used
        return received, position


def _received(packet: mqtt5.Packet) -> Received:
    kind = _ACK_KIND.get(type(packet))
    if kind is not None:
        ack = cast(_AckPacket, packet)
        return Ack(kind, ack.packet_id, int(ack.reason_code))
    if isinstance(packet, mqtt5.PublishPacket):
        return _message(packet)
    if isinstance(packet, mqtt5.PingRespPacket):
        return _PING_RESP
    if isinstance(packet, mqtt5.ConnAckPacket):
        return _connack(packet)
    if isinstance(packet, mqtt5.SubAckPacket):
        return SubAck(packet.packet_id, tuple(int(code) for code in packet.reason_codes))
    if isinstance(packet, mqtt5.DisconnectPacket):
        return Disconnect(int(packet.reason_code))
    raise ProtocolError(f"unexpected {type(packet).__name__} from the broker")


def _message(packet: mqtt5.PublishPacket) -> Message:
    properties = None
    if packet.response_topic is not None or packet.correlation_data is not None or packet.content_type:
        properties = MessageProperties(
            content_type=packet.content_type,
            payload_format_indicator=packet.payload_format_indicator,
            response_topic=packet.response_topic,
            correlation_data=packet.correlation_data,
        )
    return Message(
        packet.topic, packet.payload, int(packet.qos), packet.retain, packet.packet_id or 0, properties
    )


def _connack(packet: mqtt5.ConnAckPacket) -> ConnAck:
    code = int(packet.reason_code)
    refusal = ""
    if code >= 0x80:
        reason = packet.reason_str
        refusal = f"reason code {reason_text(code)}" + (f" ({reason})" if reason else "")
    return ConnAck(
        refusal,
        receive_maximum=packet.receive_max,
        maximum_packet_size=packet.max_packet_size,
        maximum_qos=int(packet.max_qos),
        retain_available=packet.retain_available,
        server_keepalive=packet.server_keep_alive,
    )
