"""`titan serve --demo`: the demo twin shipped in the package, loaded into a database never used.

The sample (`sample/demo-environment.json`, IDTA templates under CC BY 4.0, see
`sample/NOTICE.md`) passes the strict meta-model check. A database that holds data, or once did
(its event history says so), is never touched: a user's changes and deletions survive a restart.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

from titan_core.json_text import loads_json
from titan_core.loader import load_environment, operator_principal
from titan_core.store.database import Database
from titan_core.store.outbox import OutboxRecorder
from titan_core.store.repository import Repository
from titan_core.store.tables import event_outbox, event_relay, identifiables
from titan_core.store.write_types import WriteHook

DEMO_ENVIRONMENT = Path(__file__).with_name("sample") / "demo-environment.json"
# Who the demo twin's `created` events name as their subject.
DEMO_LOADER = operator_principal("titan serve --demo")


async def load_demo_into_unused_database(database: Database, *, write_hooks: Sequence[WriteHook] = ()) -> str:
    """Load the demo twin if the (migrated) database was never used; a one-line report either way.

    `write_hooks`: the plugins' `titan_write_transaction` implementations, run as in `titan serve`."""
    used = await _usage(database)
    if used:
        return f"--demo: the database already holds {used}; kept as it is, the demo twin is not loaded"
    environment = loads_json(DEMO_ENVIRONMENT.read_text(encoding="utf-8"))
    counts = await load_environment(
        Repository(database, recorder=OutboxRecorder(write_hooks=write_hooks)),
        environment,
        lenient=False,
        out=io.StringIO(),
        operator=DEMO_LOADER,
    )
    return (
        f"--demo: loaded the demo twin into the empty database ({counts['created']} shells, submodels "
        "and concept descriptions)"
    )


async def _usage(database: Database) -> str:
    """What shows the database was used ("" if nothing does)."""
    async with database.read() as connection:
        stored = (
            await connection.execute(sa.select(sa.func.count()).select_from(identifiables))
        ).scalar_one()
        if stored:
            return f"{stored} shells, submodels and concept descriptions"
        outbox = (await connection.execute(sa.select(sa.func.count()).select_from(event_outbox))).scalar_one()
        published = (await connection.execute(sa.select(sa.func.max(event_relay.c.last_seq)))).scalar_one()
    if outbox or published:
        return "no twins but a history of changes (everything was deleted)"
    return ""
