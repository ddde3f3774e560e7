"""Persistence: SQLAlchemy tables, migrations, and the `Repository` every change goes through."""
