"""The fan-out: the plugin's `each_instance` event sink, the `/ws/events` handler, every open
connection, and closing them all (1001) when the server shuts down.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

from titan_core.plugin_api import (
    SETTINGS,
    AsyncAasOptions,
    Event,
    EventReader,
    Fanout,
    event_reader,
    stored_elements,
)
from titan_plugin_ws import protocol
from titan_plugin_ws.config import WsConfig
from titan_plugin_ws.connection import Connection
from titan_plugin_ws.profile_cache import ProfileCache

log = logging.getLogger(__name__)


@dataclass
class WsStats:
    """Counters for `/ready` and the log."""

    accepted: int = 0
    closed_slow: int = 0
    closed_rate: int = 0
    delivered_events: int = 0


class WsHub:
    """Every connection of one app, and the sink that hands each live event to them.

    `deliver` never awaits a client: each connection's `offer` writes or queues without waiting,
    and a client whose queue overflows is closed (4429) on its own. The envelope's JSON, serialised
    once when the event was written, is what every client gets, inside a per-subscription prefix.
    """

    name = "ws"
    fanout: Fanout = "each_instance"

    def __init__(self, app: web.Application, config: WsConfig) -> None:
        self._app = app
        self.config = config
        self.stats = WsStats()
        # Every open connection (for shutdown), and those with a subscription (for fan-out).
        self.connections: weakref.WeakSet[Connection] = weakref.WeakSet()
        self.subscribed: set[Connection] = set()
        self.shutting_down = False
        self.profiles = ProfileCache(
            lambda: AsyncAasOptions.from_settings(app[SETTINGS]), lambda: stored_elements(app)
        )

    @property
    def events(self) -> EventReader:
        """The read side of the core's bus: replays and the `welcome` message read through it."""
        return event_reader(self._app)

    async def deliver(self, events: Sequence[Event]) -> None:
        await self.profiles.prepare(events)
        for connection in list(self.subscribed):
            connection.offer(events)
        self.stats.delivered_events += len(events)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """`GET /ws/events`: the upgrade is always accepted; refusals are close codes (DESIGN §4)."""
        config = self.config
        ws = web.WebSocketResponse(
            heartbeat=config.heartbeat or None,
            compress=False,  # per-message deflate would cost memory per connection and CPU per client
            max_msg_size=config.max_message_bytes,
            timeout=config.close_timeout,
        )
        await ws.prepare(request)
        if self.shutting_down:
            await ws.close(code=protocol.CLOSE_GOING_AWAY, message=b"server shutting down")
            return ws
        connection = Connection(self, request, ws)
        self.connections.add(connection)
        self.stats.accepted += 1
        try:
            await connection.run()
        finally:
            self.connections.discard(connection)
            self.subscribed.discard(connection)
        return ws

    async def shutdown(self, app: web.Application) -> None:
        """`on_shutdown`: close every connection with 1001, waiting at most the close timeout."""
        self.shutting_down = True
        connections = list(self.connections)
        if not connections:
            return
        log.info("closing %d WebSocket connections: server shutting down", len(connections))
        for connection in connections:
            # aiohttp stops reading from every connection before on_shutdown: no reply can arrive.
            connection.close(protocol.CLOSE_GOING_AWAY, "server shutting down", await_reply=False)
        await asyncio.gather(
            *(connection.wait_closed() for connection in connections), return_exceptions=True
        )

    def describe(self) -> str:
        subscriptions = sum(len(connection.subscriptions) for connection in self.subscribed)
        return (
            f"{len(self.connections)} connections, {subscriptions} subscriptions; since start "
            f"{self.stats.accepted} accepted, {self.stats.closed_slow} closed as too slow, "
            f"{self.stats.closed_rate} for sending too many messages"
        )
