"""Fixtures of the event tests: apps with sinks, fast relay settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.support.app import AppClient
from titan_core.app import create_app
from titan_core.delivery.pipeline import add_event_sink
from titan_core.delivery.sink import EventSink
from titan_core.settings import Settings

from .helpers import EventsClientFactory


@pytest.fixture
def settings(database_url: str) -> Settings:
    """This test's database, with a quick fallback poll so rows from other processes show up fast."""
    return Settings(database_url=database_url, relay_poll_ms=50)


@pytest.fixture
async def make_events_client(settings: Settings) -> AsyncIterator[EventsClientFactory]:
    """Factory of started test clients whose app has the given sinks registered before start."""
    clients: list[AppClient] = []

    async def make(custom: Settings | None = None, /, *, sinks: Sequence[EventSink] = ()) -> AppClient:
        app = create_app(custom or settings)
        for sink in sinks:
            add_event_sink(app, sink)
        client: AppClient = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in reversed(clients):
        await client.close()


@pytest.fixture
async def events_client(make_events_client: EventsClientFactory) -> AppClient:
    return await make_events_client()
