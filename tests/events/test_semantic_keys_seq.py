"""`event_semantic_keys.seq` (migration 0007_semantic_keys_seq), which the Event Feed's semanticId
filter reads on PostgreSQL: filled in for events numbered before the migration, left empty for
those the relay has not numbered yet, and set by the relay for new ones."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, insert, select

from titan_core.store.database import Database
from titan_core.store.migration_runs import MIGRATIONS_DIR
from titan_core.store.tables import event_outbox, event_semantic_keys

BEFORE = "0006_aasx_packages"


def _upgrade_to(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _outbox_row(row_id: int, seq: int | None) -> dict[str, object]:
    return {"id": row_id, "event_id": f"00000000-0000-0000-0000-{row_id:012d}", "envelope": "{}",
            "created_at": datetime.now(UTC), "seq": seq}  # fmt: skip


async def test_the_migration_fills_in_the_seq_of_numbered_events_only(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.write_engine.begin() as connection:
            await connection.run_sync(_upgrade_to, BEFORE)
            # Columns as they were at 0006: the key rows have no seq yet.
            await connection.execute(insert(event_outbox), [_outbox_row(1, 7), _outbox_row(2, None)])
            await connection.exec_driver_sql(
                "INSERT INTO event_semantic_keys (outbox_id, value) VALUES (1, 'urn:a'), (1, 'urn:b'), (2, 'urn:a')"
            )
        await database.migrate()

        keys = event_semantic_keys.c
        query = select(keys.outbox_id, keys.value, keys.seq).order_by(keys.outbox_id, keys.value)
        async with database.read() as connection:
            rows = (await connection.execute(query)).all()
        assert [tuple(row) for row in rows] == [(1, "urn:a", 7), (1, "urn:b", 7), (2, "urn:a", None)]
    finally:
        await database.close()
