"""A PostgreSQL database of a benchmark's own, next to the one a URL names, dropped afterwards."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.engine import make_url


@asynccontextmanager
async def throwaway_database(url: str, prefix: str) -> AsyncIterator[str]:
    """Create `<prefix>_<random>` on the server of `url` (SQLAlchemy URL); yield its URL; drop it."""
    base = make_url(url)
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(host=base.host, port=base.port, user=base.username, database=base.database)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
