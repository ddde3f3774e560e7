"""The discovery plugin's tests run on SQLite and on PostgreSQL: `titan_database_url` (the test kit's
fixture, which `make_titan_client` uses) is overridden here for every test module in this folder."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url

POSTGRES = os.environ.get("TITAN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
async def titan_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each test on SQLite, then on a PostgreSQL database of its own (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/titan.sqlite3"
        return
    name = f"discovery_test_{secrets.token_hex(6)}"
    server = await asyncpg.connect(POSTGRES)
    try:
        await server.execute(f'CREATE DATABASE "{name}"')
        yield make_url(POSTGRES).set(drivername="postgresql+asyncpg", database=name).render_as_string(False)
        await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await server.close()
