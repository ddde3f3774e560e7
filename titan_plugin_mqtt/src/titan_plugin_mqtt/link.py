"""What both broker connections share: their state for `/ready` and the log, and the reconnect pause.

The plugin holds two connections to the broker, both on its own client (client.py): the write-back
connection (subscription, device writes, replies) and the event publisher (every event). Each
keeps the same account of itself, so `/ready` and the log read alike for both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime

from titan_plugin_mqtt.config import MqttConfig, broker_address

log = logging.getLogger("titan_plugin_mqtt.connection")


class NotConnected(ConnectionError):
    """No broker connection now; the caller keeps what it wanted to publish and retries later."""


class LinkState:
    """One broker connection's state: since when it is up or down, why, and how often it came up."""

    def __init__(self, config: MqttConfig, *, client_id: str, role: str) -> None:
        self.config = config
        self.address = broker_address(config.url)
        self.client_id = client_id
        self.role = role  # "MQTT connection" / "MQTT event publisher", for the log
        self.connected_since: float | None = None
        self.disconnected_since: float = time.time()
        self.last_error = "not connected yet"
        self.connects = 0
        # When (time.monotonic()) a connection last broke without Titan closing it.
        self.broke_at: float | None = None
        # Called once each connection is up (the sink republishes what a crashed broker may have lost).
        self.on_connect: Callable[[], None] | None = None
        self._changed = asyncio.Event()
        self._failures = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run the connection (connect, serve, reconnect) in a task of its own until `stop`."""
        self._task = asyncio.create_task(self._run(), name=f"titan-{self.role}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        raise NotImplementedError

    @property
    def connected(self) -> bool:
        return self.connected_since is not None

    @property
    def protocol_label(self) -> str:
        return "MQTT 5" if self.config.protocol == "5" else "MQTT 3.1.1"

    async def wait_up(self, timeout: float) -> None:
        """Return once connected; `NotConnected` if that does not happen within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not self.connected:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NotConnected(
                    f"not connected to the MQTT broker {self.address.display} "
                    f"(since {_clock(self.disconnected_since)}: {self.last_error})"
                )
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    def set_connected(self) -> None:
        self._failures = 0
        self.connects += 1
        self.connected_since = time.time()
        self._notify()
        if self.on_connect is not None:
            self.on_connect()

    def set_disconnected(self, reason: str, *, expected: bool = False) -> None:
        was_connected = self.connected
        if was_connected and not expected:
            self.broke_at = time.monotonic()
        self.last_error = reason
        if was_connected or self.connects == 0:
            self.disconnected_since = time.time()
        self.connected_since = None
        self._notify()
        if was_connected:
            log.log(
                logging.INFO if expected else logging.ERROR,
                "%s to %s %s: %s", self.role, self.address.display, "closed" if expected else "lost", reason,
            )  # fmt: skip

    async def pause_before_reconnecting(self) -> None:
        """Exponential backoff with jitter between the configured bounds, logged once per attempt."""
        self._failures += 1
        failures = self._failures
        config = self.config
        pause = min(config.reconnect_min * 2 ** min(failures - 1, 30), config.reconnect_max)
        pause *= random.uniform(0.8, 1.0)  # several instances must not reconnect in step
        log.warning(
            "MQTT broker %s unreachable for the %s (%s); events wait and are published once it is back; "
            "reconnecting in %.1f s (attempt %d)",
            self.address.display, self.role, self.last_error, pause, failures,
        )  # fmt: skip
        await asyncio.sleep(pause)

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()


def default_client_id() -> str:
    """titan-<host>-<pid>-<random>: unique per process, so instances never take each other's session."""
    return f"titan-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def _clock(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
