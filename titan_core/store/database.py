"""Opens the database named by `database_url` (SQLite or PostgreSQL) and migrates its schema.

SQLite gets WAL (readers never wait for the writer) and `BEGIN IMMEDIATE` for write transactions,
so two writers queue on the database lock instead of failing when they upgrade a read lock.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic.util.exc import CommandError
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from titan_core.settings.core import DEFAULT_POOL_SIZE
from titan_core.store.direct_reads import DirectReads, ReadStatement
from titan_core.store.migration_runs import BranchFailed, upgrade_all
from titan_core.store.migration_sources import MigrationSource
from titan_core.store.outage import OutageWatch

log = logging.getLogger(__name__)

T = TypeVar("T")

# How many more connections than `database_pool_size` the transactions' pool may open for a burst
# (each closed again when returned): headroom for work that holds two connections at once.
_POOL_OVERFLOW = 10


class DatabaseUnavailable(Exception):
    """The database URL is unusable or the database cannot be reached; the message says which."""


def open_database(url: str) -> Database:
    """`Database(url)`, with a malformed or unsupported URL reported as `DatabaseUnavailable`."""
    try:
        return Database(url)
    except (ValueError, ArgumentError) as exc:
        raise DatabaseUnavailable(str(exc)) from None


class PluginMigrationFailed(DatabaseUnavailable):
    """A plugin's migrations could not be applied; the message names the plugin (`plugin`)."""

    def __init__(self, message: str, *, plugin: str) -> None:
        super().__init__(message)
        self.plugin = plugin


class WriterBusy(Exception):
    """Another process holds SQLite's write lock; use `write()`, which waits for it in a thread."""


class Database:
    """The engines for one database URL.

    Reads use `read_engine`; writes go through `write()`, which on SQLite serialises writers inside
    this process (SQLite has one writer at a time anyway) and takes the write lock up front.
    """

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise ValueError(
                f"unsupported database URL {url!r}: use sqlite+aiosqlite:///FILE or "
                "postgresql+asyncpg://USER@HOST/DB"
            )
        self.is_sqlite = self.dialect == "sqlite"
        connect_args: dict[str, Any] = {}
        if self.is_sqlite:
            self._ensure_sqlite_directory()
            # The driver must not open transactions on its own: we issue BEGIN ourselves.
            connect_args = {"isolation_level": None}
        pooling: dict[str, Any] = {}
        if not self.is_sqlite:
            # A pool that holds as many connections as an instance serves concurrent requests: with
            # SQLAlchemy's default of 5, every sixth concurrent request opened a connection and
            # closed it again when it was returned (docs/performance.md, "Direct reads").
            pooling = {"pool_size": pool_size, "max_overflow": _POOL_OVERFLOW}
        self.read_engine: AsyncEngine = create_async_engine(
            self.url, echo=echo, connect_args=connect_args, **pooling
        )
        if self.is_sqlite:
            self.write_engine: AsyncEngine = create_async_engine(
                self.url, echo=echo, connect_args=connect_args, pool_size=1, max_overflow=0
            )
            _configure_sqlite(self.read_engine, begin="BEGIN")
            _configure_sqlite(self.write_engine, begin="BEGIN IMMEDIATE")
        else:
            self.write_engine = self.read_engine
            _skip_closed_connections(self.read_engine)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        # Whether the database is away now; every layer that catches a database error reports it here.
        self.outage = OutageWatch(
            self.ping, name=self.url.render_as_string(hide_password=True), on_return=self._drop_pooled
        )
        self._direct = (
            None if self.is_sqlite else DirectReads(self.url, self.read_engine.dialect, pool_size=pool_size)
        )
        self._point_reader: sqlite3.Connection | None = None
        self._inline_engine: Engine | None = None
        if self.is_sqlite and self.url.database and self.url.database != ":memory:":
            # The same file through the standard library driver, for short transactions run on the
            # event loop itself (`write_inline`); no waiting for a lock another process holds.
            self._inline_engine = create_engine(
                self.url.set(drivername="sqlite"), echo=echo, connect_args=connect_args, pool_size=1
            )
            _configure_sqlite(self._inline_engine, begin="BEGIN IMMEDIATE", busy_timeout_ms=0)

    @property
    def write_engines(self) -> list[Engine]:
        """Every engine that commits writes (synchronous views), for after-commit listeners."""
        engines = [self.write_engine.sync_engine]
        if self._inline_engine is not None:
            engines.append(self._inline_engine)
        return engines

    @property
    def inline_writes(self) -> bool:
        """Whether `write_inline` is available (an SQLite file)."""
        return self._inline_engine is not None

    def _ensure_sqlite_directory(self) -> None:
        database = self.url.database
        if database and database != ":memory:":
            Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)

    def point_read(self, sql: str, parameters: tuple[Any, ...]) -> list[Any] | None:
        """Run a primary-key lookup synchronously on SQLite; None where that is not available.

        A point read from SQLite in WAL mode takes microseconds and never waits for a writer, while
        the async driver hands every statement to a worker thread and back (about 1 ms of CPU per
        request through SQLAlchemy). Reads of one row are therefore done inline on the event loop.
        Only for short, indexed lookups: anything that scans stays on `read()`.
        """
        if not self.is_sqlite or not self.url.database or self.url.database == ":memory:":
            return None
        if self._point_reader is None:
            # Autocommit: each SELECT is its own snapshot, so no transaction is ever left open.
            connection = sqlite3.connect(self.url.database, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA query_only=ON")
            connection.execute("PRAGMA busy_timeout=1000")
            self._point_reader = connection
        return self._point_reader.execute(sql, parameters).fetchall()

    async def fetch(
        self, statement: ReadStatement, parameters: Mapping[str, Any] | None = None
    ) -> Sequence[Sequence[Any]]:
        """The rows of one read-only statement, as positional sequences, without a transaction.

        On PostgreSQL it runs on asyncpg's pool in autocommit (direct_reads.py: a third of a point
        read's CPU less than `read()`); the statement must be built once and reused, and its values
        must need no conversion (text, numbers, booleans, bytes). On SQLite, through `read()`.
        """
        if self._direct is not None:
            return await self._direct.fetch(statement, parameters or {})
        async with self.read() as connection:
            return (await connection.execute(statement, parameters or {})).all()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.read_engine.connect() as connection:
            yield connection

    @asynccontextmanager
    async def read_statements(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads that need no snapshot across statements: on PostgreSQL each
        statement runs on its own (autocommit), so no BEGIN and ROLLBACK round trips surround it,
        two of the six a one-query `read()` makes (the Event Feed makes one query a page). On
        SQLite, `read()`."""
        if self.is_sqlite:
            async with self.read() as connection:
                yield connection
            return
        async with self.read_engine.connect() as connection:
            # Set on this checkout only: the pool restores the default isolation level on return.
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            yield connection

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        if self._write_lock is None:
            async with self.write_engine.begin() as connection:
                yield connection
            return
        async with self._write_lock, self.write_engine.begin() as connection:
            yield connection

    @asynccontextmanager
    async def write_inline(self) -> AsyncIterator[Connection]:
        """A write transaction run synchronously on the event loop (SQLite files only).

        Every statement through the async driver is a round trip to a worker thread, some 0.3 ms
        and far more under load, which the relay pays on every round. A transaction of a few
        indexed statements run inline takes a fraction of that. Only for such short ones: the loop
        does nothing else meanwhile. Raises `WriterBusy` at once if another process writes now.
        """
        assert self._inline_engine is not None and self._write_lock is not None, "not an SQLite file"
        async with self._write_lock:
            try:
                # Connecting sets PRAGMAs, which can meet the lock too.
                connection = self._inline_engine.connect()
            except OperationalError as error:
                raise _busy_or(error) from None
            with connection:
                try:
                    transaction = connection.begin()
                except OperationalError as error:
                    raise _busy_or(error) from None
                with transaction:
                    yield connection

    async def run_write(self, work: Callable[[Connection], T], *, inline: bool = True) -> T:
        """`work(connection)` in one write transaction: inline on an SQLite file (`write_inline`),
        otherwise, or when another process holds SQLite's lock, through the async engine's
        `run_sync`, which waits in the driver's worker thread. `work` is synchronous code."""
        if inline and self._inline_engine is not None:
            try:
                async with self.write_inline() as connection:
                    return work(connection)
            except WriterBusy:
                pass
        async with self.write() as asynchronous:
            return await asynchronous.run_sync(work)

    async def ping(self) -> None:
        """One trivial query: returns when the database answers, raises when it does not."""
        async with self.read_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def _drop_pooled(self) -> None:
        """After an outage: connections opened before it are dead on a restarted server; the pool
        opens new ones. (Connections in use are discarded when they come back.)"""
        if not self.is_sqlite:
            await self.read_engine.dispose()
        if self._direct is not None:
            self._direct.drop_connections()

    async def migrate(self, plugins: Sequence[tuple[str, MigrationSource]] = ()) -> None:
        """Apply every pending Alembic migration (idempotent): the core's chain, then each plugin's
        branch (`plugins`: plugin name and its `MigrationSource`), all in one transaction.

        Raises `PluginMigrationFailed` naming the plugin whose branch could not be applied.
        """
        where = self.url.render_as_string(hide_password=True)
        try:
            async with self.write_engine.begin() as connection:
                await connection.run_sync(upgrade_all, plugins)
        except BranchFailed as exc:
            raise PluginMigrationFailed(
                f"cannot migrate the database {where}: {exc}. Fix or update the plugin, or leave it out "
                f"with TITAN_DISABLE_PLUGINS={exc.plugin}",
                plugin=exc.plugin,
            ) from exc
        except CommandError as exc:
            # Typically a revision the database records that no installed code has: a plugin's,
            # after the plugin was removed or disabled.
            raise DatabaseUnavailable(
                f"cannot migrate the database {where}: {exc}. If a plugin's migrations were applied to "
                "this database, that plugin must be installed and enabled when Titan migrates it"
            ) from exc
        except (OSError, DBAPIError) as exc:
            # The driver's own message, without SQLAlchemy's statement dump and help link.
            detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise DatabaseUnavailable(f"cannot open or migrate the database {where}: {detail}") from exc
        log.info("database schema is current (%s)", self.url.render_as_string(hide_password=True))

    async def close(self) -> None:
        await self.outage.close()
        if self._point_reader is not None:
            self._point_reader.close()
            self._point_reader = None
        if self._direct is not None:
            await self._direct.close()
        await self.read_engine.dispose()
        if self.write_engine is not self.read_engine:
            await self.write_engine.dispose()
        if self._inline_engine is not None:
            self._inline_engine.dispose()


def _skip_closed_connections(engine: AsyncEngine) -> None:
    """Hand out no pooled connection that the server has closed (a restart, an idle timeout).

    In place of SQLAlchemy's `pool_pre_ping`, which costs every checkout three round trips (BEGIN,
    an empty query, ROLLBACK: over a third of a point read's CPU): asyncpg learns that the server
    closed a connection when its socket reports the end, so asking it costs nothing. A connection
    that dies unnoticed fails its statement instead, and SQLAlchemy then replaces every connection
    of the pool opened before it; the request is answered 503 (outage.py).
    """

    @event.listens_for(engine.sync_engine, "checkout")
    def _refuse_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if record.driver_connection.is_closed():
            raise DisconnectionError("the server closed this pooled connection")


def _busy_or(error: OperationalError) -> Exception:
    """`WriterBusy` for SQLite's "database is locked", the error itself otherwise."""
    return WriterBusy(str(error.orig)) if "locked" in str(error.orig) else error


def _configure_sqlite(engine: AsyncEngine | Engine, *, begin: str, busy_timeout_ms: int = 10_000) -> None:
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL under WAL loses no committed data on a process crash (only on power loss).
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Another process (`titan load` next to `titan serve`) may hold the lock for a moment.
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql(begin)
