"""MQTT brokers for tests: a readiness probe, and throwaway Mosquitto brokers on free ports.

Tests that kill or restart the broker use `ThrowawayMosquitto`, never the shared one.
"""

from __future__ import annotations

import os
import secrets
import socket
import struct
from urllib.parse import urlsplit

from tests.support.services import (
    LOOPBACK,
    find_program,
)
from tests.support.throwaway import ThrowawayProcess

DEFAULT_TEST_MQTT = "mqtt://127.0.0.1:1883"


def shared_mqtt_url() -> str:
    """The shared broker: TITAN_TEST_MQTT, else the machine's default."""
    return os.environ.get("TITAN_TEST_MQTT") or DEFAULT_TEST_MQTT


def _mqtt_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def mqtt_connect_code(url: str, *, timeout: float = 2.0) -> int:
    """Send an MQTT 3.1.1 CONNECT to the broker at `url`; return the CONNACK return code (0 = accepted).

    Raw bytes on purpose: the probe must not depend on the MQTT client library under test.
    """
    parts = urlsplit(url)
    client_id = f"titan-probe-{secrets.token_hex(4)}"
    variable_header = _mqtt_string("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 30)
    body = variable_header + _mqtt_string(client_id)
    if len(body) > 127:
        raise ValueError("probe CONNECT must fit a one-byte remaining length")
    with socket.create_connection((parts.hostname or LOOPBACK, parts.port or 1883), timeout) as sock:
        sock.sendall(bytes([0x10, len(body)]) + body)
        reply = b""
        while len(reply) < 4:
            chunk = sock.recv(4 - len(reply))
            if not chunk:
                raise ConnectionError("broker closed the connection before CONNACK")
            reply += chunk
        if reply[0] != 0x20:
            raise ConnectionError(f"expected CONNACK, got {reply!r}")
        sock.sendall(bytes([0xE0, 0x00]))  # DISCONNECT, so the broker logs no error
        return reply[3]


def mqtt_answers(url: str) -> bool:
    """Whether the broker at `url` accepts an anonymous MQTT connection."""
    try:
        return mqtt_connect_code(url, timeout=1.0) == 0
    except OSError:
        return False


class ThrowawayMosquitto(ThrowawayProcess):
    """A private Mosquitto broker (anonymous, no persistence) on a free loopback port.

    `stop()` is a clean shutdown, `kill()` a crash; `start()` again restarts it on the same port.
    """

    name = "mosquitto"

    def __init__(self, port: int | None = None) -> None:
        super().__init__(port, log_name="mosquitto.log")
        self.program = find_program("mosquitto", hint="install the mosquitto package")
        self.config_path = self.base_dir / "mosquitto.conf"
        self.config_path.write_text(
            f"listener {self.port} {LOOPBACK}\n"
            "allow_anonymous true\n"
            "persistence false\n"
            # stderr rather than a file: as root Mosquitto switches to its own user, which could not
            # write into our root-owned temporary directory.
            "log_dest stderr\n"
            "log_type error\nlog_type warning\nlog_type notice\n",
            encoding="utf-8",
        )

    @property
    def url(self) -> str:
        return f"mqtt://{LOOPBACK}:{self.port}"

    def argv(self) -> list[str]:
        return [self.program, "-c", str(self.config_path)]

    def answers(self) -> bool:
        return mqtt_answers(self.url)
