"""PostgreSQL for tests: databases on the shared server, and throwaway clusters on free ports.

The shared server (TITAN_TEST_POSTGRES) holds one `titan_test_<pid>_<hex>` database per pytest
session; tests get it reset to empty. Tests that stop or crash PostgreSQL use `ThrowawayPostgres`,
their own cluster, and never touch the shared server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, TypeVar

import asyncpg
from sqlalchemy.engine import make_url

from tests.support.services import (
    LOOPBACK,
    ServiceError,
    as_user,
    is_root,
    log_tail,
    wait_until,
)
from tests.support.throwaway import ThrowawayService
from tests.support.workers import worker_id

DEFAULT_TEST_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
DATABASE_PREFIX = "titan_test_"
# `titan_test_<pid>_<worker>_<hex>` (the worker part absent in names of earlier versions).
_OWN_DATABASE = re.compile(rf"^{DATABASE_PREFIX}(\d+)_(?:[a-z0-9]+_)?[0-9a-f]+$")
_T = TypeVar("_T")


def shared_postgres_url() -> str:
    """The shared server's maintenance URL: TITAN_TEST_POSTGRES, else the machine's default."""
    return os.environ.get("TITAN_TEST_POSTGRES") or DEFAULT_TEST_POSTGRES


def sqlalchemy_url(url: str, database: str | None = None) -> str:
    """`url` in the SQLAlchemy async form (`postgresql+asyncpg://`), optionally for another database."""
    parsed = make_url(url).set(drivername="postgresql+asyncpg")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def asyncpg_dsn(url: str, database: str | None = None) -> str:
    """`url` as a plain libpq DSN, which asyncpg takes (it does not know `+asyncpg`)."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def run_async(make_coroutine: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run a coroutine to completion from synchronous code, even inside a running event loop.

    A worker thread with its own loop keeps it away from the test's loop, which may be running.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make_coroutine())).result()


class PostgresServer:
    """Administration of one PostgreSQL server: create, reset and drop test databases."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def _connect(self, database: str | None = None) -> asyncpg.Connection:
        dsn = asyncpg_dsn(self.url, database)
        try:
            return await asyncpg.connect(dsn, timeout=10)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            safe = make_url(dsn).render_as_string(hide_password=True)
            raise ServiceError(
                f"cannot connect to PostgreSQL at {safe}: {exc}. Run scripts/ensure-services.sh "
                "(make test does), or point TITAN_TEST_POSTGRES at a server with trust auth."
            ) from exc

    def _execute(self, *statements: str, database: str | None = None) -> None:
        async def go() -> None:
            connection = await self._connect(database)
            try:
                for statement in statements:
                    await connection.execute(statement)
            finally:
                await connection.close()

        run_async(go)

    def _fetch_column(self, query: str, *args: Any) -> list[Any]:
        async def go() -> list[Any]:
            connection = await self._connect()
            try:
                return [row[0] for row in await connection.fetch(query, *args)]
            finally:
                await connection.close()

        return run_async(go)

    def create_database(self) -> str:
        """Create an empty database named `titan_test_<pid>_<worker>_<random>` and return its name.

        The pid in the name lets a later session drop it if this process dies before its cleanup.
        """
        name = f"{DATABASE_PREFIX}{os.getpid()}_{worker_id()}_{secrets.token_hex(4)}"
        # template0: nothing a previous test added to template1 can leak in.
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, first disconnecting whoever is still connected (a leaked pool)."""
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def database_exists(self, name: str) -> bool:
        return bool(self._fetch_column("SELECT 1 FROM pg_database WHERE datname = $1", name))

    def reset_database(self, name: str) -> None:
        """Empty a database in place: disconnect everyone else, drop every schema, recreate `public`.

        About 5 ms, against about 70 ms for CREATE + DROP DATABASE. Disconnecting first matters:
        a connection leaked by the previous test would otherwise block the DROP on its locks, and
        its session-level advisory locks (leases) would outlive the test.
        """
        self._execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()",
            """
            DO $$
            DECLARE schema_name text;
            BEGIN
                FOR schema_name IN
                    SELECT nspname FROM pg_namespace
                    WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'
                LOOP
                    EXECUTE format('DROP SCHEMA %I CASCADE', schema_name);
                END LOOP;
            END $$
            """,
            "CREATE SCHEMA public",
            database=name,
        )

    def drop_stale_databases(self) -> list[str]:
        """Drop test databases left by pytest processes of this machine that died before cleanup.

        Only for a server on this machine: on a remote one, a pid says nothing about liveness.
        """
        host = make_url(self.url).host or ""
        if host not in {"127.0.0.1", "localhost", "::1", ""}:
            return []
        names = self._fetch_column(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", f"{DATABASE_PREFIX}%"
        )
        dropped = []
        for name in names:
            match = _OWN_DATABASE.match(name)
            if match and not _process_alive(int(match.group(1))):
                self.drop_database(name)
                dropped.append(name)
        return dropped


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def fresh_database(server: PostgresServer) -> Iterator[str]:
    """A new empty database on `server` for the block (its SQLAlchemy URL); dropped afterwards."""
    name = server.create_database()
    try:
        yield sqlalchemy_url(server.url, name)
    finally:
        server.drop_database(name)


def postgres_bin_dir() -> Path:
    """Where initdb and pg_ctl live: TITAN_TEST_PG_BINDIR, else the newest /usr/lib/postgresql/<v>/bin."""
    override = os.environ.get("TITAN_TEST_PG_BINDIR")
    if override:
        return Path(override)
    root = Path("/usr/lib/postgresql")
    versions = sorted(
        (p for p in root.glob("*/bin") if p.parent.name.isdigit()),
        key=lambda p: int(p.parent.name),
    )
    if not versions:
        raise ServiceError(
            "no PostgreSQL server binaries under /usr/lib/postgresql/<version>/bin; install the "
            "postgresql package or set TITAN_TEST_PG_BINDIR"
        )
    return versions[-1]


class ThrowawayPostgres(ThrowawayService):
    """A private PostgreSQL cluster on a free port, for tests that stop, crash or restart it.

    Data lives in a temporary directory owned by `postgres` (PostgreSQL refuses to run as root;
    as root we run its binaries through `runuser`). fsync is off: nothing here must survive a
    power cut. Use as a context manager, or call start()/stop()/cleanup().
    """

    name = "pg"

    def __init__(self, port: int | None = None) -> None:
        super().__init__(port, log_name="postgres.log")
        self.bin_dir = postgres_bin_dir()
        if is_root():
            # mkdtemp is root-only (0700); the cluster's own user must own its directory.
            shutil.chown(self.base_dir, user="postgres", group="postgres")
        self.data_dir = self.base_dir / "data"
        self._initialised = False

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the cluster's `postgres` database (user postgres, trust auth)."""
        return f"postgresql+asyncpg://postgres@{LOOPBACK}:{self.port}/postgres"

    def _run(self, program: str, *args: str, timeout: float = 60) -> None:
        argv = as_user("postgres", [str(self.bin_dir / program), *args])
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise ServiceError(
                f"{program} {' '.join(args)} failed with exit code {result.returncode}:\n"
                f"{result.stdout}{result.stderr}\n{log_tail(self.log_path)}"
            )

    def start(self) -> None:
        """Create the cluster on the first call, then start it and wait until it accepts connections."""
        if not self._initialised:
            self._run(
                "initdb", "-D", str(self.data_dir), "-U", "postgres", "-A", "trust",
                "-E", "UTF8", "--no-locale", "--no-sync",
            )  # fmt: skip
            self._initialised = True
        options = (
            f"-p {self.port} -k {self.base_dir} -c listen_addresses={LOOPBACK} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path), "-w", "-t", "30",
                  "-o", options, "start")  # fmt: skip
        wait_until(
            self.accepts_connections,
            timeout=30,
            what=f"throwaway PostgreSQL on port {self.port} accepting connections",
            interval=0.1,
            diagnostics=lambda: log_tail(self.log_path),
        )

    def accepts_connections(self) -> bool:
        async def probe() -> bool:
            connection = await asyncpg.connect(asyncpg_dsn(self.url), timeout=2)
            await connection.close()
            return True

        try:
            return run_async(probe)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False

    def running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()

    def stop(self, mode: Literal["smart", "fast", "immediate"] = "fast") -> None:
        """Stop the cluster; `immediate` is a crash (no checkpoint, clients cut off at once)."""
        if self.running():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "30", "stop")

    def kill(self) -> None:
        """Crash the cluster (`pg_ctl stop -m immediate`: no checkpoint, clients cut off at once)."""
        self.stop(mode="immediate")
