"""The test infrastructure itself: fresh databases, key prefixes, the app fixtures, throwaway services."""

from __future__ import annotations

import socket
import subprocess
import urllib.request

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.app import AppClient
from tests.support.live_server import LiveServer, LiveServerFactory
from tests.support.mosquitto import ThrowawayMosquitto, mqtt_answers, mqtt_connect_code
from tests.support.postgres import (
    DATABASE_PREFIX,
    PostgresServer,
    ThrowawayPostgres,
    asyncpg_dsn,
    fresh_database,
)
from tests.support.redis import RedisClient, ThrowawayRedis, redis_answers, redis_key_prefix
from tests.support.services import ServiceError, port_is_open


async def _table_names(url: str) -> list[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names())
    finally:
        await engine.dispose()


async def test_database_url_is_empty_and_writable(database_url: str) -> None:
    assert await _table_names(database_url) == []
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.text("CREATE TABLE probe (id INTEGER PRIMARY KEY)"))
            await connection.execute(sa.text("INSERT INTO probe (id) VALUES (1)"))
        async with engine.connect() as connection:
            assert (await connection.execute(sa.text("SELECT count(*) FROM probe"))).scalar_one() == 1
    finally:
        await engine.dispose()


async def test_postgres_reset_drops_tables_schemas_and_cuts_leftover_connections(
    postgres_server: PostgresServer,
) -> None:
    with fresh_database(postgres_server) as url:
        leftover = await asyncpg.connect(asyncpg_dsn(url))
        await leftover.execute("CREATE SCHEMA extra; CREATE TABLE extra.t (id int)")
        await leftover.execute("CREATE TABLE kept (id int)")
        await leftover.execute("BEGIN; LOCK TABLE kept IN ACCESS EXCLUSIVE MODE")

        postgres_server.reset_database(url.rsplit("/", 1)[1])

        assert leftover.is_closed() or not await _still_usable(leftover)
        leftover.terminate()
        checker = await asyncpg.connect(asyncpg_dsn(url))
        try:
            schemas = await checker.fetch(
                "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                "AND nspname <> 'information_schema'"
            )
            tables = await checker.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        finally:
            await checker.close()
        assert [row["nspname"] for row in schemas] == ["public"]
        assert tables == []


async def _still_usable(connection: asyncpg.Connection) -> bool:
    try:
        await connection.fetchval("SELECT 1")
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        return False
    return True


def test_fresh_database_exists_inside_the_block_and_is_dropped_after(
    postgres_server: PostgresServer,
) -> None:
    with fresh_database(postgres_server) as url:
        name = url.rsplit("/", 1)[1]
        assert name.startswith(DATABASE_PREFIX)
        assert postgres_server.database_exists(name)
    assert not postgres_server.database_exists(name)


def test_databases_of_dead_test_processes_are_dropped_and_live_ones_kept(
    postgres_server: PostgresServer, postgres_session_database: str
) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = f"{DATABASE_PREFIX}{dead.pid}_deadbeef"
    postgres_server._execute(f'CREATE DATABASE "{orphan}" TEMPLATE template0')
    try:
        dropped = postgres_server.drop_stale_databases()
        assert orphan in dropped
        assert not postgres_server.database_exists(orphan)
        assert postgres_server.database_exists(postgres_session_database)
    finally:
        postgres_server.drop_database(orphan)


def test_redis_key_prefix_deletes_only_its_own_keys_afterwards(redis_url: str) -> None:
    with RedisClient(redis_url) as client:
        with redis_key_prefix(redis_url) as prefix:
            assert prefix.startswith("titan-test-") and prefix.endswith(":")
            client.command("SET", f"{prefix}a", "1")
            client.command("XADD", f"{prefix}stream", "*", "field", "value")
            with redis_key_prefix(redis_url) as neighbour:
                client.command("SET", f"{neighbour}b", "2")
                assert client.command("EXISTS", f"{prefix}a", f"{prefix}stream") == 2
            assert client.command("EXISTS", f"{neighbour}b") == 0
            assert client.command("EXISTS", f"{prefix}a", f"{prefix}stream") == 2
        assert client.command("EXISTS", f"{prefix}a", f"{prefix}stream") == 0


def test_redis_prefix_fixture_gives_each_test_its_own_prefix(redis_prefix: str, redis_url: str) -> None:
    with redis_key_prefix(redis_url) as other:
        assert redis_prefix != other


async def test_app_client_serves_the_service_description(app_client: AppClient) -> None:
    response = await app_client.get("/description")
    assert response.status == 200
    body = await response.json()
    assert body["profiles"] and all(
        profile.startswith("https://admin-shell.io/") for profile in body["profiles"]
    ), body


@pytest.mark.slow  # starts `titan` as a process: not in `make test-fast`
def test_live_server_answers_over_http_and_stops_on_sigterm(
    start_live_server: LiveServerFactory,
) -> None:
    server: LiveServer = start_live_server()
    with urllib.request.urlopen(f"{server.base_url}/description", timeout=5) as response:
        assert response.status == 200
    server.stop()
    assert server.process.returncode is not None
    assert not port_is_open(server.host, server.port)


@pytest.mark.slow  # starts `titan` as a process: not in `make test-fast`
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_live_server_that_cannot_start_reports_its_output(start_live_server: LiveServerFactory) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServiceError, match=r"titan serve exited with code [1-9](.|\n)*--- last"):
            start_live_server(port=port)


@pytest.mark.slow
async def test_throwaway_postgres_starts_accepts_connections_stops_and_restarts(
    throwaway_postgres: ThrowawayPostgres,
) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(throwaway_postgres.url))
    assert await connection.fetchval("SHOW port") == str(throwaway_postgres.port)
    await connection.close()

    throwaway_postgres.stop(mode="immediate")
    assert not throwaway_postgres.accepts_connections()
    throwaway_postgres.start()
    assert throwaway_postgres.accepts_connections()


def test_throwaway_redis_starts_answers_dies_on_kill_and_restarts(throwaway_redis: ThrowawayRedis) -> None:
    with RedisClient(throwaway_redis.url) as client:
        client.command("SET", "k", "v")
        assert client.command("GET", "k") == b"v"
        assert int(client.command("CONFIG", "GET", "port")[1]) == throwaway_redis.port

    throwaway_redis.kill()
    assert not redis_answers(throwaway_redis.url)
    throwaway_redis.start()
    with RedisClient(throwaway_redis.url) as client:
        assert client.command("GET", "k") is None  # nothing persisted: a restart starts empty


def test_throwaway_mosquitto_accepts_mqtt_stops_and_restarts(throwaway_mosquitto: ThrowawayMosquitto) -> None:
    assert mqtt_connect_code(throwaway_mosquitto.url) == 0

    throwaway_mosquitto.stop()
    assert not mqtt_answers(throwaway_mosquitto.url)
    throwaway_mosquitto.start()
    assert mqtt_answers(throwaway_mosquitto.url)


def test_shared_services_answer(redis_url: str, mqtt_url: str) -> None:
    assert redis_answers(redis_url), f"shared Redis at {redis_url} does not answer"
    assert mqtt_answers(mqtt_url), f"shared MQTT broker at {mqtt_url} does not answer"
