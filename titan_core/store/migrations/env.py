"""Alembic environment: Titan always hands over an open connection (see store/database.py)."""

from __future__ import annotations

from alembic import context

from titan_core.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "Titan's migrations run through `titan serve` or `titan migrate`, which pass a connection; "
        "running the alembic command line directly is not supported"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
