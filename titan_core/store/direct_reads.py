"""Single-statement reads on PostgreSQL straight through asyncpg's own pool.

A one-query read through SQLAlchemy's async engine costs about 0.3 ms of CPU beyond the query
itself: a pool checkout and check-in, the greenlet hop, the autobegun transaction and its
rollback, and the result wrapping. For the hot point reads and pages (a lookup by asset id, a
descriptor, a shell by id) that was a third of the request (docs/performance.md, "Direct reads").
Here a SQLAlchemy statement is compiled once to PostgreSQL's text and afterwards only its
parameters are bound; asyncpg prepares it once per connection and runs it in autocommit: one round
trip, no BEGIN, no ROLLBACK.

asyncpg's pool notices connections the server closed (a restart) and opens new ones on the next
acquire, so no ping is needed before each statement; while the server is away, acquiring raises
the driver's connection errors, which the outage watch (outage.py) recognises as an outage (503).

Only statements whose values need no conversion by SQLAlchemy qualify: text, integers, booleans,
bytes (what asyncpg hands over as the same Python values). Expanding `IN` lists do not (their SQL depends
on the number of values): `compile_direct` refuses them.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import Boolean, Integer, LargeBinary, String
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.sql import Select, TextClause
from sqlalchemy.sql.sqltypes import NullType

from titan_core.store.asyncpg_arguments import asyncpg_connect_arguments

# The types whose values asyncpg takes and gives as the Python values SQLAlchemy would. Not JSON
# (SQLAlchemy's connections decode it with a codec of their own), dates, enums or decorated types.
_PLAIN_TYPES = (String, Integer, Boolean, LargeBinary)

# How long a read waits for a free connection of the pool before it is answered 503.
ACQUIRE_TIMEOUT_S = 30.0

# What `fetch` runs: a SELECT built with SQLAlchemy Core, or SQL text with named parameters.
ReadStatement = Select[*tuple[Any, ...]] | TextClause


@dataclass(frozen=True, slots=True)
class CompiledRead:
    """A statement as PostgreSQL text with its parameters in positional order, and the values of
    the parameters the statement fixed itself (literals turned into bind parameters)."""

    sql: str
    names: tuple[str, ...]
    fixed: Mapping[str, Any]

    def arguments(self, parameters: Mapping[str, Any]) -> list[Any]:
        try:
            return [parameters[name] if name in parameters else self.fixed[name] for name in self.names]
        except KeyError as missing:
            raise TypeError(f"the statement needs the parameter {missing.args[0]!r}") from None


def compile_direct(statement: ReadStatement, dialect: Dialect) -> CompiledRead:
    """`statement` compiled for asyncpg (`$1`, `$2`, …). Raises TypeError for what cannot run
    unconverted: expanding parameters, and bind or result types that SQLAlchemy would process."""
    compiled = statement.compile(dialect=dialect)
    if compiled.literal_execute_params or compiled.post_compile_params:
        raise TypeError("direct reads cannot run statements with expanding IN parameters")
    for name, bind in compiled.binds.items():
        if not isinstance(bind.type, (*_PLAIN_TYPES, NullType)):  # NullType: untyped, as in text()
            raise TypeError(f"the parameter {name!r} needs SQLAlchemy's conversion ({bind.type!r})")
    for column in getattr(statement, "selected_columns", ()):
        if not isinstance(column.type, _PLAIN_TYPES):
            raise TypeError(f"the column {column.name!r} needs SQLAlchemy's conversion ({column.type!r})")
    names = tuple(compiled.positiontup or ())
    # The values the statement carries itself (literals); a `bindparam` without one is required.
    # By the name it was rendered with: a literal's bind is anonymous until compiled.
    fixed = {name: bind.effective_value for bind, name in compiled.bind_names.items() if not bind.required}
    return CompiledRead(str(compiled), names, fixed)


class DirectReads:
    """asyncpg's pool for one PostgreSQL database, opened on first use; `fetch` runs one statement."""

    def __init__(self, url: URL, dialect: Dialect, *, pool_size: int) -> None:
        self._connect_arguments = asyncpg_connect_arguments(url)
        self._dialect = dialect
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        # Statements are built once per shape by their callers; compile each once as well.
        self._compiled: weakref.WeakKeyDictionary[ReadStatement, CompiledRead] = weakref.WeakKeyDictionary()

    async def fetch(self, statement: ReadStatement, parameters: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
        compiled = self._compiled.get(statement)
        if compiled is None:
            compiled = self._compiled[statement] = compile_direct(statement, self._dialect)
        pool = self._pool or await self._open()
        # As long as the transactions' pool waits for a connection (SQLAlchemy's pool_timeout);
        # the timeout, raised inside asyncpg, is an outage to the outage watch: 503.
        async with pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as connection:
            rows: Sequence[Sequence[Any]] = await connection.fetch(
                compiled.sql, *compiled.arguments(parameters)
            )
        return rows

    async def _open(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is None:
                # min_size 0: connections open as reads need them, and a pool opened during an
                # outage is not an error until a read needs the database.
                self._pool = await asyncpg.create_pool(
                    min_size=0, max_size=self._pool_size, reset=_keep_session, **self._connect_arguments
                )
            return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    def drop_connections(self) -> None:
        """After an outage: close the idle connections of before; the pool opens new ones."""
        if self._pool is not None:
            self._pool.expire_connections()


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Nothing to reset when a connection goes back to the pool: a direct read is one statement in
    autocommit that sets, listens to and locks nothing. asyncpg's default reset sends a query
    (RESET ALL, UNLISTEN *, unlock all, CLOSE ALL): a round trip per read, 12% of a page's CPU."""
