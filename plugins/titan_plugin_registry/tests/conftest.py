"""The registry plugin's fixtures: a client of an app with the plugin, a throwaway PostgreSQL
database. Helpers without state are in registry_testing.py."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from pytest_asyncio import fixture as async_fixture
from registry_testing import TitanProcess
from sqlalchemy.engine import make_url

from titan_core.testing import AppClient, TitanClients

# The machine's shared PostgreSQL server (trust auth); each test that uses it gets a database of its own.
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@async_fixture
async def postgres_database_url() -> AsyncIterator[str]:
    """A new, empty database on the shared PostgreSQL server (TITAN_TEST_POSTGRES), dropped afterwards."""
    admin = os.environ.get("TITAN_TEST_POSTGRES") or DEFAULT_POSTGRES
    name = f"titan_registry_{os.getpid()}_{secrets.token_hex(4)}"
    connection = await asyncpg.connect(admin)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    yield (
        make_url(admin)
        .set(drivername="postgresql+asyncpg", database=name)
        .render_as_string(hide_password=False)
    )
    connection = await asyncpg.connect(admin)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@async_fixture
async def registry_client(make_titan_client: TitanClients) -> AppClient:
    """A started app with the built-ins and the registry plugin, on `titan_settings`."""
    return await make_titan_client(plugins=["registry"])


@pytest.fixture
def titan_process(tmp_path: Path) -> Iterator[TitanProcess]:
    """A started `titan serve` with the registry plugin (authentication off, SQLite in tmp_path)."""
    server = TitanProcess(tmp_path)
    server.start()
    yield server
    server.stop()
