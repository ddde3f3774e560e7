"""Lists for a scoped principal: only the identifiables its scopes cover, in full pages.

The database narrows the rows by each scope's literal prefix (cheap, and a superset of the matches);
the exact pattern match runs here, and further rows are fetched until the page is full.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, or_
from sqlalchemy.ext.asyncio import AsyncConnection

from titan_core.auth import Principal, authorize_read
from titan_core.store.tables import identifiables

_WILDCARDS = "*?["


async def readable_rows(
    connection: AsyncConnection, query: Select[Any], principal: Principal, *, limit: int
) -> Sequence[Row[Any]]:
    """The rows of `query` that `principal` may read, at most `limit` of them.

    `query` selects `identifiables` rows (at least `pk` and `identifier`) ordered by `pk` and
    limited to `limit`; a principal without the reader role is refused (`Forbidden`).
    """
    authorize_read(principal)
    if not principal.scopes:
        every: Sequence[Row[Any]] = (await connection.execute(query)).all()
        return every
    narrowed = query.where(scope_prefix_filter(principal.scopes)) if all_prefixed(principal.scopes) else query
    found: list[Row[Any]] = []
    while True:
        rows = (await connection.execute(narrowed)).all()
        found.extend(row for row in rows if principal.may_access(row.identifier))
        if len(found) >= limit or len(rows) < limit:
            return found[:limit]
        narrowed = narrowed.where(identifiables.c.pk > rows[-1].pk)


def scope_prefix_filter(scopes: Sequence[str]) -> ColumnElement[bool]:
    """Rows whose identifier starts with the literal part of one of the scopes.

    `LIKE` folds ASCII case on SQLite, so this may let through more than the scopes match, never
    less; the caller matches exactly.
    """
    return or_(*(identifiables.c.identifier.startswith(literal_prefix(scope), autoescape=True)
                 for scope in scopes))  # fmt: skip


def literal_prefix(pattern: str) -> str:
    """The part of a scope pattern before its first wildcard (the Event Feed narrows by it too)."""
    cut = min((pattern.find(mark) for mark in _WILDCARDS if mark in pattern), default=len(pattern))
    return pattern[:cut]


def all_prefixed(scopes: Sequence[str]) -> bool:
    """Whether every scope has a literal prefix, so a query may narrow by prefixes first."""
    # One scope that starts with a wildcard can match any identifier: the database cannot narrow.
    return all(literal_prefix(scope) for scope in scopes)
