"""Database outages: which errors mean "the database is away" (not a bug), and saying so once.

While PostgreSQL restarts, every request that touches it fails the same way. One WARNING when the
database goes and one INFO when it is back tell an operator everything; a traceback per request
(thousands in a few seconds) would bury it. Callers answer such errors with 503 and `Retry-After`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator

from sqlalchemy import exc as sa_exc

from titan_core.tasks import cancel_and_wait

log = logging.getLogger(__name__)

# SQLSTATE classes of a server that cannot serve now: 08 connection exception, 53 insufficient
# resources (too many connections), 57P0x operator intervention (shutdown, crash, starting up).
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53")
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
# The asyncpg exceptions a lost connection raises outside SQLSTATE (the driver's own).
_LOST_CONNECTION_NAMES = frozenset({"ConnectionDoesNotExistError", "InterfaceError", "InternalClientError"})
_PROBE_EVERY_S = 0.5
# A probe that gets no answer is abandoned and tried again: a connect made while the server shuts
# down can hang for the driver's whole connect timeout (60 s for asyncpg), during which the return
# of the database would go unnoticed.
_PROBE_TIMEOUT_S = 3.0


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` (or an error it wraps) says the database cannot be reached or is restarting.

    True for refused or broken connections, a pool with no connection to give, PostgreSQL shutting
    down or starting up, and SQLite's lock held by another process. False for everything a request
    or the code got wrong (a constraint, a syntax error): those stay 4xx or a logged 500.
    """
    causes = list(_causes(error))
    if any(_says_unavailable(cause) for cause in causes):
        return True
    # A bare timeout is the database's only when the database layer raised it (a connect that got
    # no answer), not when some other await of the request ran out of time.
    return any(isinstance(cause, TimeoutError) for cause in causes) and any(
        _from_database_layer(cause) for cause in causes
    )


def _causes(error: BaseException) -> Iterator[BaseException]:
    """`error`, what SQLAlchemy wraps (`.orig`), and its `__cause__` / `__context__` chain."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        todo += [orig if isinstance(orig, BaseException) else None, current.__cause__, current.__context__]


def _says_unavailable(error: BaseException) -> bool:
    if isinstance(error, ConnectionError | sa_exc.TimeoutError):
        return True  # refused or reset, or the pool had no connection to hand out in time
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, OSError) and "connect call failed" in str(error).lower():
        return True  # asyncpg trying several addresses raises a plain OSError listing them
    if isinstance(error, sqlite3.OperationalError):
        text = str(error).lower()
        return "locked" in text or "busy" in text
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str) and (
        sqlstate in _UNAVAILABLE_SQLSTATES or sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES
    ):
        return True
    return type(error).__module__.startswith("asyncpg") and type(error).__name__ in _LOST_CONNECTION_NAMES


class OutageWatch:
    """Knows whether the database is away, logs the change once each way, and notices the return.

    `report(error)` is called wherever a database error is caught. For an outage it logs one
    WARNING (the first time), starts probing with `probe` every half second, and returns True so
    the caller can stay quiet; the first probe that succeeds calls `on_return` (the database drops
    the pooled connections of before, which a restarted server has closed), logs one INFO and ends
    the outage.
    """

    def __init__(
        self,
        probe: Callable[[], Awaitable[None]],
        *,
        name: str,
        on_return: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._probe = probe
        self._on_return = on_return
        self._name = name
        self.down_since: float | None = None
        self.refused = 0  # requests answered 503 during the current outage (counted by the API)
        self.outages = 0  # since start, for /metrics
        self._prober: asyncio.Task[None] | None = None

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def report(self, error: BaseException) -> bool:
        """Note a failed database call; True when it is an outage (already logged), False otherwise."""
        if not database_unavailable(error):
            return False
        if self.down_since is None:
            self.down_since = time.monotonic()
            self.outages += 1
            log.warning(
                "database %s is not reachable (%s); requests that need it are answered 503 with "
                "Retry-After until it is back",
                self._name,
                _first_line(error),
            )
        if self._prober is None or self._prober.done():
            with contextlib.suppress(RuntimeError):  # no running loop: nothing to probe from
                self._prober = asyncio.get_running_loop().create_task(
                    self._wait_for_return(), name="titan-database-probe"
                )
        return True

    async def close(self) -> None:
        if self._prober is not None:
            await cancel_and_wait(self._prober)
            self._prober = None

    async def _wait_for_return(self) -> None:
        while self.down_since is not None:
            await asyncio.sleep(_PROBE_EVERY_S)
            try:
                async with asyncio.timeout(_PROBE_TIMEOUT_S):
                    await self._probe()
            except TimeoutError:
                continue
            except Exception as error:
                if not database_unavailable(error):
                    log.warning("database probe failed: %s", _first_line(error))
                continue
            if self._on_return is not None:
                try:
                    async with asyncio.timeout(_PROBE_TIMEOUT_S):
                        await self._on_return()
                except Exception as error:  # the pool still works; stale connections fail once each
                    log.warning(
                        "could not drop the connections opened before the outage: %s", _first_line(error)
                    )
            seconds = time.monotonic() - self.down_since
            log.info(
                "database %s is reachable again after %.1f s; %d requests were answered 503 meanwhile",
                self._name,
                seconds,
                self.refused,
            )
            self.down_since, self.refused = None, 0


def _from_database_layer(error: BaseException) -> bool:
    if isinstance(error, sa_exc.SQLAlchemyError):
        return True
    traceback = error.__traceback__
    while traceback is not None:
        module = traceback.tb_frame.f_globals.get("__name__", "")
        if module.startswith(("asyncpg", "sqlalchemy", "aiosqlite")):
            return True
        traceback = traceback.tb_next
    return False


def _first_line(error: BaseException) -> str:
    """The driver's reason ("Connect call failed …"), without the SQL and links SQLAlchemy appends."""
    text = str(error).strip()
    reason = text.splitlines()[0] if text else ""
    return f"{type(error).__name__}: {reason}" if reason else type(error).__name__
