"""Observed failure 4 of issue 11: when PostgreSQL drops a connection in the middle of a write, the
outbox's rollback listener raised `PendingRollbackError` and hid the real cause. The error the
write raises is now the database's own (a lost connection), which the API answers with 503."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, PendingRollbackError

from tests.support.postgres import asyncpg_dsn
from titan_core.eventtypes.change import Change
from titan_core.store.database import Database
from titan_core.store.outage import database_unavailable
from titan_core.store.outbox import OutboxRecorder


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_connection_lost_mid_write_raises_its_own_error_not_pending_rollback(
    database_url: str,
) -> None:
    database = Database(database_url)
    await database.migrate()
    recorder = OutboxRecorder()
    recorder.wake_after_commit(database.write_engines)
    try:
        with pytest.raises(DBAPIError) as caught:
            async with database.write() as connection:
                backend = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
                change = Change(
                    type="created", entity="submodel", identifier="https://example.com/sm/lost", data={}
                )
                await recorder.record(connection, [change], origin="rest")
                killer = await asyncpg.connect(asyncpg_dsn(database_url))
                try:
                    await killer.execute("SELECT pg_terminate_backend($1)", backend)
                finally:
                    await killer.close()
                await connection.execute(text("SELECT 1"))
        assert not isinstance(caught.value, PendingRollbackError), caught.value
        assert database_unavailable(caught.value), caught.value
        # Nothing was committed, and the next write works on a fresh connection.
        async with database.write() as connection:
            stored = (await connection.execute(text("SELECT count(*) FROM event_outbox"))).scalar_one()
        assert stored == 0
        assert recorder.committed_events == 0
    finally:
        recorder.stop_waking(database.write_engines)
        await database.close()
