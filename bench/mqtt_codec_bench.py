"""CPU per packet of the MQTT client's codecs (titan_plugin_mqtt/codec5.py on `mqtt5`, codec311.py).

What the event path asks of a codec for each event: encode one PUBLISH (an event envelope of about
600 bytes on an element topic, QoS 1, with the CloudEvents properties over MQTT 5) and decode the
PUBACK that answers it, read 64 at a time as they arrive off the socket. Timed in-process with
`time.process_time`, best of `--rounds`; no broker, no event loop.

    .venv/bin/python bench/mqtt_codec_bench.py --packets 100000 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence

from titan_plugin_mqtt.codec import PUBACK, Codec, MessageProperties
from titan_plugin_mqtt.codec5 import Mqtt5Codec
from titan_plugin_mqtt.codec311 import Mqtt311Codec

TOPIC = "titan/element/aHR0cHM6Ly9leGFtcGxlLmNvbS9pZHMvc20vNDcxMQ/Temperature/events"
PAYLOAD = b'{"specversion":"1.0","type":"io.admin-shell.events.v1.valueChanged","data":' + b"1" * 560 + b"}"
PROPERTIES = MessageProperties("application/cloudevents+json", payload_format_indicator=1)
ACKS_PER_READ = 64


def best_of(rounds: int, packets: int, work: Callable[[], None]) -> float:
    """Microseconds of CPU per packet, the best of `rounds`."""
    times = []
    for _ in range(rounds):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return round(min(times) / packets * 1e6, 3)


def measure(
    codec: Codec, properties: MessageProperties | None, packets: int, rounds: int
) -> dict[str, float]:
    encode = codec.publish

    def encode_all() -> None:
        for packet_id in range(1, packets + 1):
            encode(TOPIC, PAYLOAD, 1, False, packet_id % 65535 + 1, properties)

    reads = [
        bytearray(b"".join(codec.acknowledge(PUBACK, n + 1) for n in range(start, start + ACKS_PER_READ)))
        for start in range(0, packets, ACKS_PER_READ)
    ]

    def decode_all() -> None:
        for read in reads:
            codec.read(read)

    return {
        "encode_publish_us": best_of(rounds, packets, encode_all),
        "decode_puback_us": best_of(rounds, len(reads) * ACKS_PER_READ, decode_all),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--packets", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    result = {
        "mqtt5 (codec5)": measure(Mqtt5Codec(), PROPERTIES, args.packets, args.rounds),
        "3.1.1 (codec311)": measure(Mqtt311Codec(), None, args.packets, args.rounds),
        "loadavg_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
