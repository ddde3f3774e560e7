"""Fixtures of the metrics tests: apps with exactly the sinks and plugins a test names."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.support.app import AppClient
from titan_core.app import create_app
from titan_core.delivery.pipeline import add_event_sink
from titan_core.delivery.sink import EventSink
from titan_core.plugins import get_plugin_manager
from titan_core.settings import Settings

from .helpers import MetricsAppFactory


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, relay_poll_ms=50, sink_retry_max_ms=200)


@pytest.fixture
async def make_metrics_app(settings: Settings) -> AsyncIterator[MetricsAppFactory]:
    """Started test clients of apps with the built-ins, the given plugin modules and sinks."""
    clients: list[AppClient] = []

    async def make(
        custom: Settings | None = None, /, *, sinks: Sequence[EventSink] = (), plugins: Sequence[Any] = ()
    ) -> AppClient:
        chosen = custom or settings
        manager = get_plugin_manager(chosen, load_entry_points=False)
        for plugin in plugins:
            manager.add_plugin(plugin, plugin.__name__.split(".")[0].removeprefix("titan_plugin_"))
        app = create_app(chosen, plugin_manager=manager)
        for sink in sinks:
            add_event_sink(app, sink)
        client: AppClient = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in reversed(clients):
        await client.close()
