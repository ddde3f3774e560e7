"""Alembic revisions of the test plugin (Alembic skips this file)."""
