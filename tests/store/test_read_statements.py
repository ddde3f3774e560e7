"""`Database.read_statements` (the Event Feed's page reads): on PostgreSQL each statement is its own
transaction, with no BEGIN and ROLLBACK around it; the pooled connection goes back to `read()`'s
one transaction for the whole block."""

from __future__ import annotations

import pytest

from titan_core.store.database import Database

CURRENT_TRANSACTION = "SELECT txid_current()"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_statements_run_on_their_own_and_the_pool_gets_its_default_back(database_url: str) -> None:
    # Used one after the other, the blocks get the pool's one connection: `read()` meets the very
    # connection `read_statements()` had.
    database = Database(database_url)
    try:
        async with database.read_statements() as connection:
            first = (await connection.exec_driver_sql(CURRENT_TRANSACTION)).scalar_one()
            second = (await connection.exec_driver_sql(CURRENT_TRANSACTION)).scalar_one()
            assert first != second, "statements of read_statements() shared a transaction"
        async with database.read() as connection:
            first = (await connection.exec_driver_sql(CURRENT_TRANSACTION)).scalar_one()
            second = (await connection.exec_driver_sql(CURRENT_TRANSACTION)).scalar_one()
            assert first == second, "read() after read_statements() ran its statements in autocommit"
    finally:
        await database.close()
