"""`PluginTransaction.identifiables` (plugin API 1.2): a plugin reads the repository's documents in
its own write transaction, as stored now, locked against the core's writes until the block ends."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.twins import shell, submodel
from titan_core.auth import ANONYMOUS
from titan_core.store.repository import Repository

ORIGIN = "plugin:test"
DEADLINE = 10.0


async def test_it_reads_the_stored_ones_among_the_ids_in_primary_key_order(repository: Repository) -> None:
    for shell_id in ("urn:b", "urn:a"):
        await repository.create("shell", shell(shell_id), origin="rest", principal=ANONYMOUS)
    await repository.create("submodel", submodel("urn:sm"), origin="rest", principal=ANONYMOUS)

    async with repository.transaction(ANONYMOUS, origin=ORIGIN) as transaction:
        shells = await transaction.identifiables(
            "shell", ["urn:a", "urn:missing", "urn:b", "urn:a", "urn:sm"]
        )
        none = await transaction.identifiables("submodel", ["urn:a"])

    assert [(stored.identifier, stored.version) for stored in shells] == [("urn:b", 1), ("urn:a", 1)]
    assert shells[1].document()["assetInformation"]["globalAssetId"] == "urn:a/asset"
    assert none == []


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_core_write_of_a_read_document_waits_for_the_end_of_the_block(
    repository: Repository,
) -> None:
    # On SQLite the write transaction excludes every other writer anyway; PostgreSQL needs the lock.
    await repository.create("shell", shell("urn:a"), origin="rest", principal=ANONYMOUS)
    information = {"assetKind": "Instance", "globalAssetId": "urn:a/new"}

    async with repository.transaction(ANONYMOUS, origin=ORIGIN) as transaction:
        (before,) = await transaction.identifiables("shell", ["urn:a"])
        writing = asyncio.create_task(
            repository.set_asset_information("urn:a", information, origin="rest", principal=ANONYMOUS)
        )
        await wait_until_a_session_waits_for_a_lock(repository)
        assert not writing.done()
    await asyncio.wait_for(writing, DEADLINE)

    after = await repository.get("shell", "urn:a", principal=ANONYMOUS)
    assert (before.version, after.version) == (1, 2)


async def wait_until_a_session_waits_for_a_lock(repository: Repository) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    query = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    while True:
        async with repository.reading() as connection:
            if (await connection.exec_driver_sql(query)).scalar_one() > 0:
                return
        assert loop.time() < deadline, f"no write waited for the block's lock within {DEADLINE} s"
        await asyncio.sleep(0.02)
