"""The pytest plugin of `titan_core.testing` (entry point `pytest11`: `titan`): fixtures for plugin
authors. Installed with titan-aas, it is active in every pytest run of that environment.

Fixtures: `titan_settings` (SQLite in the test's tmp_path, the memory bus, and Redis as a second
case when `--titan-redis-url` or TITAN_TESTING_REDIS_URL is given), `make_titan_client`,
`titan_client`, `recording_sink`, `titan_events`, `http_receiver`. Override `titan_database_url` or `titan_settings`
in a conftest.py to run the same tests elsewhere. docs/testing-plugins.md shows them in use.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

try:  # async fixtures that also work in pytest-asyncio's strict mode (titan-aas[testing] installs it)
    from pytest_asyncio import fixture as async_fixture
except ImportError:  # pytest runs here without pytest-asyncio: no async test runs; loading must not fail
    async_fixture = pytest.fixture  # type: ignore[assignment]

from titan_core.settings import Settings
from titan_core.testing.apps import AppClient, TitanClients
from titan_core.testing.events import EventFactory
from titan_core.testing.http_receiver import HttpReceiver
from titan_core.testing.sinks import RecordingSink

REDIS_OPTION = "--titan-redis-url"
REDIS_ENVIRONMENT = "TITAN_TESTING_REDIS_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("titan").addoption(
        REDIS_OPTION,
        default=os.environ.get(REDIS_ENVIRONMENT, ""),
        help=f"also run tests that use `titan_bus` on this Redis (default: ${REDIS_ENVIRONMENT}; "
        "keys under a prefix of each test's own, deleted after it)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each test that uses `titan_bus` runs on the memory bus, and on Redis when a URL is given."""
    if "titan_bus" not in metafunc.fixturenames:
        return
    redis_url = metafunc.config.getoption(REDIS_OPTION)
    buses = ["memory", redis_url] if redis_url else ["memory"]
    metafunc.parametrize("titan_bus", buses, indirect=True, ids=["memory", "redis"][: len(buses)])


@pytest.fixture
def titan_bus(request: pytest.FixtureRequest) -> str:
    """The bus of this test's app: "memory", or the Redis URL (a second run of the test)."""
    return str(getattr(request, "param", "memory"))


@pytest.fixture
def titan_bus_prefix(titan_bus: str) -> Iterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted afterwards (unused on memory)."""
    prefix = f"titan-testing-{secrets.token_hex(6)}:"
    yield prefix
    if titan_bus != "memory":
        import redis  # a dependency of titan-aas; imported only when Redis is in use

        client = redis.Redis.from_url(titan_bus)
        try:
            keys = list(client.scan_iter(match=prefix + "*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


@pytest.fixture
def titan_database_url(tmp_path: Path) -> str:
    """An empty SQLite database in the test's tmp_path (SQLAlchemy async URL)."""
    return f"sqlite+aiosqlite:///{tmp_path}/titan.sqlite3"


@pytest.fixture
def titan_settings(titan_database_url: str, titan_bus: str, titan_bus_prefix: str) -> Settings:
    """Settings for a test app: this database and bus, a relay that looks for rows every 50 ms and
    sink retries capped at 0.2 s (tests wait less). Derive variants with `.replace(...)`."""
    return Settings(
        database_url=titan_database_url, bus=titan_bus, bus_prefix=titan_bus_prefix,
        relay_poll_ms=50, sink_retry_max_ms=200,
    )  # fmt: skip


@async_fixture
async def make_titan_client(titan_settings: Settings) -> AsyncIterator[TitanClients]:
    """`await make_titan_client(settings=None, *, plugins=(), sinks=(), plugin_manager=None)`: a
    started aiohttp test client of a new app; every client is closed after the test."""
    clients = TitanClients(titan_settings)
    yield clients
    await clients.close()


@async_fixture
async def titan_client(make_titan_client: TitanClients) -> AppClient:
    """A started client of an app with the core's built-ins only, on `titan_settings`."""
    return await make_titan_client()


@pytest.fixture
def recording_sink() -> RecordingSink:
    """A `once` sink named "recorder" that keeps what it gets (`.events`, `.seqs`, `.wait_for`)."""
    return RecordingSink("recorder")


@pytest.fixture
def titan_events() -> EventFactory:
    """Events with rising titanseqs: `titan_events.next(data=21.5)`, `titan_events.batch(10)`."""
    return EventFactory()


@async_fixture
async def http_receiver() -> AsyncIterator[HttpReceiver]:
    """A started local HTTP server that records requests (`.url`, `.requests`, `.answer(503)`)."""
    receiver = HttpReceiver()
    await receiver.start()
    yield receiver
    await receiver.stop()
