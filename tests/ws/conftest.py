"""Fixtures of the WebSocket plugin tests: live servers (real TCP) with the ws plugin and, when a test
asks, a token plugin (tests/ws/helpers.py); both client libraries."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import titan_plugin_ws.plugin
from aiohttp.test_utils import TestServer

from titan_core.app import create_app
from titan_core.plugins import get_plugin_manager
from titan_core.settings import Settings

from .helpers import PUBLIC_BASE, TokenPlugin, WsServer, WsServerFactory


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The WebSocket layer does not depend on the database backend: SQLite only."""
    return f"sqlite+aiosqlite:///{tmp_path}/titan.sqlite3"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, relay_poll_ms=50)


@pytest.fixture(params=["aiohttp", "websockets"])
def client_kind(request: pytest.FixtureRequest) -> str:
    """Each protocol test runs with aiohttp's client and with the `websockets` library."""
    return str(request.param)


@pytest.fixture
async def make_ws_server(settings: Settings) -> AsyncIterator[WsServerFactory]:
    """Factory of live servers (real TCP on 127.0.0.1) with the ws plugin and no other plugin.

    `ws` is the plugin's `[ws]` settings table; `tokens` adds the token plugin.
    """
    servers: list[WsServer] = []

    async def make(
        custom: Settings | None = None, /, *, ws: Mapping[str, Any] | None = None, tokens: bool = False
    ) -> WsServer:
        chosen = (custom or settings).replace(extra={"ws": dict(ws or {})})
        manager = get_plugin_manager(chosen, load_entry_points=False)
        manager.add_plugin(titan_plugin_ws.plugin, "ws", distribution="titan-aas-ws")
        if tokens:
            manager.add_plugin(TokenPlugin(), "tokens")
        server = TestServer(create_app(chosen, plugin_manager=manager), host="127.0.0.1")
        await server.start_server()
        live = WsServer(server, aiohttp.ClientSession())
        servers.append(live)
        return live

    yield make
    for live in reversed(servers):
        for client in live.clients:
            with contextlib.suppress(Exception):  # a test may have left it closed or broken on purpose
                await client.close()
        await live.http.close()
        await live.server.close()


@pytest.fixture
async def ws_server(make_ws_server: WsServerFactory) -> WsServer:
    """A live server with the twin loaded (its events are history by the time a test connects)."""
    server = await make_ws_server()
    await server.load_twin()
    return server


@pytest.fixture
async def public_ws_server(make_ws_server: WsServerFactory, settings: Settings) -> WsServer:
    """`ws_server` with `public_base_url` set (PUBLIC_BASE), as the async-aas profile needs it."""
    server = await make_ws_server(settings.replace(public_base_url=PUBLIC_BASE))
    await server.load_twin()
    return server
