"""`Database.fetch` (direct reads: one statement on asyncpg's own pool on PostgreSQL, `read()` on
SQLite) and the transactions' pool without `pool_pre_ping`: both survive a PostgreSQL restart
without failing the first request after it, and report an outage as one (503)."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

from tests.support.postgres import ThrowawayPostgres, sqlalchemy_url
from titan_core.delivery.outbox_listener import OutboxListener
from titan_core.store import direct_reads
from titan_core.store.asyncpg_arguments import asyncpg_connect_arguments
from titan_core.store.database import Database
from titan_core.store.direct_reads import compile_direct
from titan_core.store.outage import database_unavailable

metadata = sa.MetaData()
things = sa.Table(
    "direct_read_things",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("rank", sa.Integer, nullable=False),
    sa.Column("alive", sa.Boolean, nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=True),
    sa.Column("meta", sa.JSON, nullable=True),
)
BY_RANK = (
    sa.select(things.c.name, things.c.rank, things.c.alive, things.c.payload)
    .where(things.c.rank >= sa.bindparam("lowest", type_=sa.Integer))
    .order_by(things.c.rank)
    .limit(sa.bindparam("limit", type_=sa.Integer))
)
BY_NAME = sa.text("SELECT rank FROM direct_read_things WHERE name = :name")
# Literals become anonymous bind parameters whose values the statement carries.
NAMES_JOINED = sa.select(
    sa.func.max(things.c.rank) + sa.literal(10, sa.Integer),
    sa.func.count().filter(things.c.name != sa.literal("thing-0", sa.Text)),
).where(things.c.rank < sa.bindparam("below", type_=sa.Integer))


async def _fill(database: Database) -> None:
    async with database.write() as connection:
        await connection.run_sync(metadata.create_all)
        await connection.execute(
            sa.insert(things),
            [
                {"name": f"thing-{rank}", "rank": rank, "alive": rank % 2 == 0, "payload": bytes([rank])}
                for rank in range(5)
            ],
        )


async def test_fetch_returns_positional_rows_on_both_databases(database_url: str) -> None:
    database = Database(database_url)
    try:
        await _fill(database)
        rows = await database.fetch(BY_RANK, {"lowest": 2, "limit": 2})
        assert [tuple(row) for row in rows] == [("thing-2", 2, True, b"\x02"), ("thing-3", 3, False, b"\x03")]
        # The same statement object again (compiled once), other values; and SQL text.
        assert [tuple(row) for row in await database.fetch(BY_RANK, {"lowest": 4, "limit": 10})] == [
            ("thing-4", 4, True, b"\x04")
        ]
        assert [tuple(row) for row in await database.fetch(BY_NAME, {"name": "thing-1"})] == [(1,)]
        assert await database.fetch(BY_NAME, {"name": "nothing"}) == []
        assert [tuple(row) for row in await database.fetch(NAMES_JOINED, {"below": 3})] == [(12, 2)]
    finally:
        await database.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_missing_parameter_is_named(database_url: str) -> None:
    database = Database(database_url)
    try:
        await _fill(database)
        with pytest.raises(TypeError, match="needs the parameter 'limit'"):
            await database.fetch(BY_RANK, {"lowest": 1})
    finally:
        await database.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_read_that_finds_every_connection_taken_is_an_outage_after_the_timeout(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(direct_reads, "ACQUIRE_TIMEOUT_S", 0.2)
    database = Database(database_url, pool_size=1)
    try:
        await _fill(database)
        assert await database.fetch(BY_NAME, {"name": "thing-1"}) == [(1,)]
        pool = database._direct._pool if database._direct is not None else None
        assert pool is not None, "the direct reads' pool was not opened"
        async with pool.acquire():  # the pool's only connection, held
            with pytest.raises(Exception) as waited:
                await database.fetch(BY_NAME, {"name": "thing-1"})
        assert database_unavailable(waited.value), repr(waited.value)
        assert await database.fetch(BY_NAME, {"name": "thing-1"}) == [(1,)]
    finally:
        await database.close()


def test_statements_that_need_sqlalchemy_to_convert_are_refused() -> None:
    dialect = asyncpg_dialect.dialect()
    expanding = sa.select(things.c.rank).where(things.c.name.in_(sa.bindparam("names", expanding=True)))
    with pytest.raises(TypeError, match="expanding IN"):
        compile_direct(expanding, dialect)
    with pytest.raises(TypeError, match="the column 'meta' needs SQLAlchemy's conversion"):
        compile_direct(sa.select(things.c.meta), dialect)
    with pytest.raises(TypeError, match="the parameter 'meta' needs SQLAlchemy's conversion"):
        compile_direct(
            sa.select(things.c.rank).where(things.c.meta == sa.bindparam("meta", type_=sa.JSON)), dialect
        )
    plain = compile_direct(BY_RANK, dialect)
    assert plain.names == ("lowest", "limit") and "$1" in plain.sql and "$2" in plain.sql


@pytest.mark.slow
async def test_both_pools_survive_a_restart_and_report_an_outage(
    throwaway_postgres: ThrowawayPostgres,
) -> None:
    database = Database(sqlalchemy_url(throwaway_postgres.url), pool_size=2)
    try:
        await _fill(database)
        await _read_both(database)  # both pools now hold two open connections each

        # A restart between requests: every pooled connection of before is closed, and neither pool
        # hands one out, so the first requests after it succeed (no ping, and none of them fails).
        await asyncio.to_thread(throwaway_postgres.stop, "fast")
        await asyncio.to_thread(throwaway_postgres.start)
        await _read_both(database)

        await asyncio.to_thread(throwaway_postgres.stop, "fast")
        with pytest.raises(Exception) as refused:
            await database.fetch(BY_NAME, {"name": "thing-3"})
        assert database_unavailable(refused.value), repr(refused.value)
        with pytest.raises(Exception) as refused_too:
            async with database.read() as connection:
                await connection.execute(sa.select(1))
        assert database_unavailable(refused_too.value), repr(refused_too.value)

        await asyncio.to_thread(throwaway_postgres.start)
        await _read_both(database)
    finally:
        await database.close()


async def _read_both(database: Database) -> None:
    """Reads through both pools, two at a time so that both pooled connections of each are used."""
    for _ in range(2):
        found = await asyncio.gather(*(database.fetch(BY_NAME, {"name": "thing-3"}) for _ in range(2)))
        assert [[tuple(row) for row in rows] for rows in found] == [[(3,)], [(3,)]]
        async with database.read() as first, database.read() as second:
            for connection in (first, second):
                assert (
                    await connection.execute(sa.select(sa.func.count()).select_from(things))
                ).scalar() == 5


# Options of SQLAlchemy's asyncpg dialect. Handed to asyncpg as a DSN, each became a server setting
# that PostgreSQL refused ("unrecognized configuration parameter"): the engine connected, the direct
# reads and the outbox listener did not.
DIALECT_OPTIONS = "prepared_statement_cache_size=50&ssl=disable"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_direct_reads_and_the_outbox_listener_take_the_engines_url_options(database_url: str) -> None:
    url = f"{database_url}{'&' if '?' in database_url else '?'}{DIALECT_OPTIONS}"
    database = Database(url)
    wake = asyncio.Event()
    listener = OutboxListener(sa.make_url(url), wake)
    try:
        await _fill(database)  # through the engine
        assert [tuple(row) for row in await database.fetch(BY_NAME, {"name": "thing-3"})] == [(3,)]
        listener.start()
        async with asyncio.timeout(30):  # a reconnecting listener would never set `listening`
            while not listener.listening:
                await asyncio.sleep(0.05)
        assert wake.is_set()
    finally:
        await listener.stop()
        await database.close()


def test_the_connect_arguments_are_the_dialects_without_its_own_options() -> None:
    arguments = asyncpg_connect_arguments(
        sa.make_url(
            f"postgresql+asyncpg://titan:secret@/things?host=db1:5432&host=db2:5433&{DIALECT_OPTIONS}"
        )
    )
    assert arguments == {
        "user": "titan",
        "password": "secret",
        "database": "things",
        "host": ["db1", "db2"],
        "port": [5432, 5433],
        "ssl": "disable",
    }
