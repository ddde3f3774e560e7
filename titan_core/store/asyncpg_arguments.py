"""The arguments of `asyncpg.connect` for a `postgresql+asyncpg://` URL, as SQLAlchemy builds them.

The direct reads' pool and the outbox listener open asyncpg connections beside the engine's. Given
the URL as a libpq DSN, asyncpg takes every query option it does not know for a server setting, so
options that SQLAlchemy's asyncpg dialect understands (`ssl=require`, `prepared_statement_cache_size`,
several `host=`) made PostgreSQL refuse those connections ("unrecognized configuration parameter")
while the engine connected. Built by the dialect itself, the three connect alike.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import URL

# Options SQLAlchemy's asyncpg adapter takes for itself and does not hand to asyncpg.connect.
_SQLALCHEMY_ONLY = ("prepared_statement_cache_size", "prepared_statement_name_func", "async_creator_fn")


def asyncpg_connect_arguments(url: URL) -> dict[str, Any]:
    """Keyword arguments for `asyncpg.connect` / `asyncpg.create_pool` that reach the database the
    engine of `url` reaches, with the same options."""
    _positional, keywords = url.get_dialect(_is_async=True)().create_connect_args(url)
    arguments = dict(keywords)
    for option in _SQLALCHEMY_ONLY:
        arguments.pop(option, None)
    return arguments
