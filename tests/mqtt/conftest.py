"""Fixtures of the MQTT plugin tests: apps with exactly the MQTT plugin, on the shared Mosquitto
with a topic prefix of the test's own (or on a throwaway broker where a test needs one)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.support.app import AppClient
from titan_core.settings import Settings

from .mqtt_helpers import MqttAppFactory, build_app


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The plugin does not depend on the database backend: SQLite only, a new file per test."""
    return f"sqlite+aiosqlite:///{tmp_path}/titan.sqlite3"


@pytest.fixture(autouse=True)
def _no_mqtt_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test passes configures the plugin: TITAN_MQTT_* of the shell are ignored."""
    for name in list(os.environ):
        if name.startswith("TITAN_MQTT_"):
            monkeypatch.delenv(name)


@pytest.fixture
async def make_mqtt_app(
    settings: Settings, mqtt_url: str, mqtt_topic_prefix: str
) -> AsyncIterator[MqttAppFactory]:
    clients: list[AppClient] = []

    async def make(
        url: str | None = None, /, *, core: dict[str, Any] | None = None, **mqtt: Any
    ) -> AppClient:
        section = {"url": url or mqtt_url, "prefix": mqtt_topic_prefix, "reconnect_min": 0.1,
                   "reconnect_max": 1.0, **mqtt}  # fmt: skip
        custom = settings.replace(relay_poll_ms=50, **(core or {}), extra={"mqtt": section})
        client: AppClient = TestClient(TestServer(build_app(custom)))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in reversed(clients):
        await client.close()
