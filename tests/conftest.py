"""Shared fixtures: databases on both backends, the app under test, live servers, real services.

No service is mocked. The shared PostgreSQL, Redis and Mosquitto (TITAN_TEST_POSTGRES,
TITAN_TEST_REDIS, TITAN_TEST_MQTT; `make test` starts them) are only ever used through per-run
names (a database, a key prefix, a topic prefix). Tests that stop or crash a service use the
`throwaway_*` fixtures, which start a private instance on a free port.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from tests.support.app import AppClient, AppClientFactory
from tests.support.lanes import mark_lanes
from tests.support.live_server import LiveServer, LiveServerFactory
from tests.support.live_server import start_live_server as launch_live_server
from tests.support.mosquitto import ThrowawayMosquitto, shared_mqtt_url
from tests.support.parallel import group_shared_fixtures
from tests.support.postgres import (
    PostgresServer,
    ThrowawayPostgres,
    shared_postgres_url,
    sqlalchemy_url,
)
from tests.support.redis import ThrowawayRedis, redis_key_prefix, shared_redis_url
from tests.support.workers import worker_id
from titan_core.settings import Settings
from titan_core.store.database import Database
from titan_core.store.repository import Repository
from titan_core.testing import INSTALLED, TitanClients


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by these markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Lane markers (`postgresql`, `redis`, `mqtt`, `fault`, ...) by what each test uses: support/lanes.py;
    one xdist worker per module whose tests share a module-scoped fixture: support/parallel.py."""
    mark_lanes(items)
    group_shared_fixtures(items)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        f"titan services: postgres={shared_postgres_url()} redis={shared_redis_url()} "
        f"mqtt={shared_mqtt_url()}"
    ]


# --- PostgreSQL on the shared server -------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    """The shared PostgreSQL server (TITAN_TEST_POSTGRES), for creating and dropping databases.

    Databases left behind by earlier pytest processes that died are dropped here, once.
    """
    server = PostgresServer(shared_postgres_url())
    server.drop_stale_databases()
    return server


@pytest.fixture(scope="session")
def postgres_session_database(postgres_server: PostgresServer) -> Iterator[str]:
    """Name of this test run's own database (`titan_test_<pid>_<random>`), dropped at session end.

    Created on first use only, so a run without PostgreSQL tests never touches the server. The
    drop runs even when tests failed; if the process is killed, the next run drops it.
    """
    name = postgres_server.create_database()
    try:
        yield name
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def make_postgres_database(postgres_server: PostgresServer) -> Iterator[Callable[[], str]]:
    """Factory of extra empty PostgreSQL databases (SQLAlchemy URLs), dropped after the test.

    For tests that need more than one database at once; `database_url` covers the usual case.
    About 70 ms per database.
    """
    created: list[str] = []

    def make() -> str:
        name = postgres_server.create_database()
        created.append(name)
        return sqlalchemy_url(postgres_server.url, name)

    yield make
    for name in created:
        postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database for this test, as a SQLAlchemy async URL; the test runs once per backend.

    - "sqlite": `sqlite+aiosqlite:///<tmp_path>/titan.sqlite3`, a new file per test.
    - "postgresql": `postgresql+asyncpg://…/titan_test_<pid>_<random>`, the run's own database,
      emptied before each test (other connections cut, every schema dropped, `public`
      recreated: ~5 ms, against ~70 ms for a new database per test). Tests of one process run
      one at a time and each pytest-xdist worker is its own process with its own database, so
      this is as isolated as a new database; a test that needs two uses
      `make_postgres_database`.

    Pick one backend with `@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)`.
    """
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/titan.sqlite3"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name: str = request.getfixturevalue("postgres_session_database")
    server.reset_database(name)
    return sqlalchemy_url(server.url, name)


# --- The application -----------------------------------------------------------------------------


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Default `Settings` on this test's `database_url`; derive variants with `settings.replace(...)`."""
    return Settings(database_url=database_url)


@pytest.fixture
def titan_settings(settings: Settings) -> Settings:
    """The kit's apps (`make_titan_client`, titan_core.testing) use this suite's `settings`: every
    backend of `database_url`, and each area's own variants."""
    return settings


@pytest.fixture
async def make_app_client(settings: Settings) -> AsyncIterator[TitanClients]:
    """Factory of started aiohttp test clients (the kit's, titan_core.testing), closed after the test.

    Unlike the kit's `make_titan_client` (built-ins only), its apps load every installed plugin as
    `titan serve` does. `make_app_client(settings=None, *, plugins=INSTALLED, sinks=(),
    plugin_manager=None)`: pass other settings, plugins or a plugin manager to build an app with
    exactly the plugins a test wants. Each client starts its app (migrations included).
    """
    clients = TitanClients(settings, plugins=INSTALLED)
    yield clients
    await clients.close()


@pytest.fixture
async def app_client(make_app_client: AppClientFactory) -> AppClient:
    """An aiohttp `TestClient` for `create_app(settings)` on an empty database, started and migrated."""
    return await make_app_client()


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    """The store alone, without an app: a `Database` on `settings`, migrated, closed after the test."""
    opened = Database(settings.database_url)
    await opened.migrate()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def repository(database: Database) -> Repository:
    """A `Repository` on the test's migrated `database` (no app, no event pipeline)."""
    return Repository(database)


# --- Live servers --------------------------------------------------------------------------------


@pytest.fixture
def start_live_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServerFactory]:
    """Factory that starts real `titan serve` processes; all are stopped after the test.

    `start_live_server(database_url=None, *, env=None, args=(), port=None) -> LiveServer`:
    defaults to this test's `database_url`; returns once `GET /description` answers 200. The
    `LiveServer` has `base_url`, `stop()` (SIGTERM), `kill()` (SIGKILL) and `log()`. Each
    server's output is printed at teardown, which pytest shows only when the test failed.
    """
    servers: list[LiveServer] = []
    log_dir = tmp_path_factory.mktemp("live-server")

    def start(
        url: str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        port: int | None = None,
    ) -> LiveServer:
        server = launch_live_server(url or database_url, log_dir=log_dir, env=env, args=args, port=port)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
        print(f"\n=== titan serve on port {server.port} (exit code {server.process.returncode}) ===")
        print(server.log_tail(200))


@pytest.fixture
def live_server(start_live_server: LiveServerFactory) -> str:
    """Base URL (`http://127.0.0.1:<port>`) of a real `titan serve` on this test's database."""
    return start_live_server().base_url


# --- Redis and MQTT ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the shared Redis (TITAN_TEST_REDIS, default redis://127.0.0.1:6379/0).

    Never write to it without `redis_prefix`; never stop it (use `throwaway_redis`).
    """
    return shared_redis_url()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own (`titan-test-<random>:`); its keys are deleted afterwards."""
    with redis_key_prefix(redis_url) as prefix:
        yield prefix


@pytest.fixture(scope="session")
def mqtt_url() -> str:
    """URL of the shared MQTT broker (TITAN_TEST_MQTT, default mqtt://127.0.0.1:1883).

    Use it with `mqtt_topic_prefix`; retained messages there outlive the test, so tests about
    retain use `throwaway_mosquitto`.
    """
    return shared_mqtt_url()


@pytest.fixture
def mqtt_topic_prefix() -> str:
    """A topic prefix of this test's own (`titan-test-<worker>-<random>`), so runs and workers never
    see each other."""
    return f"titan-test-{worker_id()}-{secrets.token_hex(6)}"


# --- Throwaway services (for tests that stop, crash or restart a service) -------------------------


@pytest.fixture
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    """A private, started PostgreSQL cluster on a free port (`.url`, `.stop(mode)`, `.start()`)."""
    with ThrowawayPostgres() as cluster:
        yield cluster


@pytest.fixture
def throwaway_redis() -> Iterator[ThrowawayRedis]:
    """A private, started Redis on a free port (`.url`, `.stop()`, `.kill()`, `.start()`)."""
    with ThrowawayRedis() as server:
        yield server


@pytest.fixture
def throwaway_mosquitto() -> Iterator[ThrowawayMosquitto]:
    """A private, started Mosquitto on a free port (`.url`, `.stop()`, `.kill()`, `.start()`)."""
    with ThrowawayMosquitto() as broker:
        yield broker
